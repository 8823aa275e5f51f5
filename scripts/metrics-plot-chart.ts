// Drawing: one inline SVG line chart per panel (no script, nothing fetched), with the load phases
// shaded behind the lines.
import type { Phase } from './metrics-plot-load.js'
import { peak, type Series } from './metrics-plot-series.js'

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f', '#393b79', '#637939']
export type Unit = 'rps' | 'ms' | 'count' | 'cores'

export const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

export function fmt (v: number, unit: Unit): string {
  const num = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1).replace(/\.0$/, '') : x >= 1 ? x.toFixed(2).replace(/\.?0+$/, '') : x.toPrecision(2).replace(/\.?0+$/, ''))
  switch (unit) {
    case 'ms':
      return v >= 1000 ? `${num(v / 1000)} s` : `${num(v)} ms`
    case 'rps':
      return v >= 1000 ? `${num(v / 1000)}k/s` : `${num(v)}/s`
    case 'cores':
      return num(v)
    case 'count':
      return num(v)
  }
}

/** Round steps for a linear axis up to `max`. */
function linearTicks (max: number): number[] {
  if (max <= 0) return [0, 1]
  const raw = max / 4
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!
  const ticks = []
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)))
  return ticks
}

/** The round value (1, 2 or 5 x 10^k) at or above v, and at or below it. */
const roundUp = (v: number) => {
  const e = Math.floor(Math.log10(v))
  return [1, 2, 5, 10].map((m) => m * 10 ** e).find((r) => r >= v * 0.999)!
}
const roundDown = (v: number) => {
  const e = Math.floor(Math.log10(v))
  return [10, 5, 2, 1].map((m) => m * 10 ** e).find((r) => r <= v * 1.001)!
}

export interface ChartSpec {
  title: string
  note: string
  unit: Unit
  log?: boolean
  series: Series[]
}

export function chart (spec: ChartSpec, times: number[], phases: Phase[], colors: Map<string, string>): string {
  const W = 640
  const H = 230
  const L = 62
  const R = 14
  const T = 20
  const B = 26
  const pw = W - L - R
  const ph = H - T - B
  const tMax = Math.max(...times, 1)
  const x = (t: number) => L + (t / tMax) * pw
  const values = spec.series.flatMap((s) => s.values.filter((v): v is number => v !== null && (!spec.log || v > 0)))
  const vMax = Math.max(...values, 0)
  let y: (v: number) => number
  let ticks: number[]
  if (spec.log) {
    // From a round value (1, 2 or 5 x 10^k) below the smallest to one above the largest, with room.
    const vMin = Math.min(...values, vMax || 1)
    const bottom = roundDown((vMin || 0.1) / 1.15)
    const top = Math.max(roundUp((vMax || 1) * 1.15), bottom * 10)
    const lo = Math.log10(bottom)
    const hi = Math.log10(top)
    const steps = hi - lo > 3 ? [1] : [1, 2, 5]
    ticks = []
    for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) for (const m of steps) if (m * 10 ** e >= bottom * 0.999 && m * 10 ** e <= top * 1.001) ticks.push(Number((m * 10 ** e).toPrecision(6)))
    y = (v) => T + ph - ((Math.log10(v) - lo) / (hi - lo)) * ph
  } else {
    ticks = linearTicks(vMax * 1.05)
    const top = ticks.at(-1)!
    y = (v) => T + ph - (v / top) * ph
  }
  const parts: string[] = []
  parts.push(`<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="#fff" stroke="#d0d4da"/>`)
  phases.forEach((p, i) => {
    const x0 = x(Math.min(p.start, tMax))
    const x1 = x(Math.min(p.end, tMax))
    parts.push(`<rect x="${x0.toFixed(1)}" y="${T}" width="${(x1 - x0).toFixed(1)}" height="${ph}" fill="${i % 2 ? '#eef3fb' : '#f4f1fa'}"/>`)
    parts.push(`<text x="${(x0 + 4).toFixed(1)}" y="${T - 6}" class="phase">${esc(p.name)}</text>`)
  })
  for (const v of ticks) {
    const yy = y(v).toFixed(1)
    parts.push(`<line x1="${L}" x2="${L + pw}" y1="${yy}" y2="${yy}" stroke="#e3e6ea"/>`)
    parts.push(`<text x="${L - 6}" y="${(y(v) + 4).toFixed(1)}" class="tick" text-anchor="end">${esc(fmt(v, spec.unit))}</text>`)
  }
  const step = tMax > 40 ? 10 : tMax > 10 ? 5 : 1
  for (let t = 0; t <= tMax; t += step) {
    parts.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${T + ph}" y2="${T + ph + 4}" stroke="#888"/>`)
    parts.push(`<text x="${x(t).toFixed(1)}" y="${T + ph + 17}" class="tick" text-anchor="middle">${t} s</text>`)
  }
  for (const s of spec.series) {
    const color = colors.get(s.name) ?? '#333'
    let run: string[] = []
    const flush = () => {
      if (run.length === 1) parts.push(`<circle cx="${run[0]!.split(',')[0]}" cy="${run[0]!.split(',')[1]}" r="2" fill="${color}"/>`)
      else if (run.length > 1) parts.push(`<polyline points="${run.join(' ')}" fill="none" stroke="${color}" stroke-width="1.8" stroke-linejoin="round"/>`)
      run = []
    }
    s.values.forEach((v, i) => {
      if (v === null || (spec.log && v <= 0)) return flush()
      run.push(`${x(times[i]!).toFixed(1)},${y(v).toFixed(1)}`)
    })
    flush()
  }
  parts.push(`<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#b8bec6"/>`)
  const legend = spec.series
    .map((s) => `<span class="key"><i style="background:${colors.get(s.name) ?? '#333'}"></i>${esc(s.name || '(all)')} <b>${esc(fmt(peak(s), spec.unit))}</b></span>`)
    .join('')
  return `<section class="panel"><h2>${esc(spec.title)}${spec.log ? ' <small>(log scale)</small>' : ''}</h2><p class="note">${esc(spec.note)}</p>
<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${parts.join('')}</svg>
<div class="legend">${legend || '<span class="key">nothing observed</span>'}<span class="peak">bold: peak</span></div></section>`
}
