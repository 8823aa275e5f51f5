// Reading the service's metrics: /metrics scraped every second during the run, and per-second
// series from the scrapes (rates of counters, gauges, and quantiles from histogram buckets
// between two scrapes, as PromQL's rate and histogram_quantile compute them).
import { setTimeout as sleep } from 'node:timers/promises'
import { parsePrometheus, type Family } from '../test/support/prometheus.js'

export interface Scrape {
  /** Seconds since the first scrape. */
  t: number
  families: Map<string, Family>
}

export function scraper (url: string) {
  const scrapes: Scrape[] = []
  // Set by stop(), read by the loop: a field, so the loop reads it anew on each turn.
  const state = { stopped: false }
  let failures = 0
  let started = 0
  const loop = (async () => {
    started = performance.now()
    for (let k = 0; !state.stopped; k++) {
      const at = performance.now()
      try {
        const res = await fetch(`${url}/metrics`)
        if (res.status !== 200) throw new Error(`/metrics: ${res.status}`)
        const text = await res.text()
        // The time of the answer's middle: the counters were read about then.
        scrapes.push({ t: ((at + performance.now()) / 2 - started) / 1000, families: parsePrometheus(text) })
      } catch (err) {
        if (++failures > 5) throw err
      }
      const next = started + (k + 1) * 1000
      await sleep(Math.max(0, next - performance.now()))
    }
  })()
  // Awaited by stop(); a failure before then is not an unhandled rejection.
  loop.catch(() => {})
  return {
    scrapes,
    /** Seconds since the first scrape. */
    now: () => (performance.now() - started) / 1000,
    async stop () {
      state.stopped = true
      await loop
    }
  }
}

export type Labels = Record<string, string>
export type Where = (labels: Labels) => boolean
export const all: Where = () => true

/** A sample name's values summed by the `by` labels (joined with a space), over the samples `where` keeps. */
export function sums (s: Scrape, name: string, by: string[], where: Where = all): Map<string, number> {
  const family = s.families.get(name.replace(/_(bucket|sum|count)$/, '')) ?? s.families.get(name)
  const out = new Map<string, number>()
  for (const x of family?.samples ?? []) {
    if (x.name !== name || !where(x.labels)) continue
    const key = by.map((l) => x.labels[l] ?? '').join(' ')
    out.set(key, (out.get(key) ?? 0) + x.value)
  }
  return out
}

export interface Series {
  name: string
  values: Array<number | null>
}

/** Per second between consecutive scrapes, by the `by` labels. */
export function rates (scrapes: Scrape[], name: string, by: string[], where: Where = all): Series[] {
  const keys = new Set<string>()
  const maps = scrapes.map((s) => sums(s, name, by, where))
  for (const m of maps) for (const k of m.keys()) keys.add(k)
  return [...keys].sort().map((key) => ({
    name: key,
    values: scrapes.slice(1).map((s, i) => ((maps[i + 1]!.get(key) ?? 0) - (maps[i]!.get(key) ?? 0)) / (s.t - scrapes[i]!.t))
  }))
}

/** A gauge's value at each scrape but the first (aligned with the rates). */
export function gauge (scrapes: Scrape[], name: string, by: string[] = []): Series[] {
  const keys = new Set<string>()
  const maps = scrapes.map((s) => sums(s, name, by))
  for (const m of maps) for (const k of m.keys()) keys.add(k)
  return [...keys].sort().map((key) => ({ name: key, values: maps.slice(1).map((m) => m.get(key) ?? null) }))
}

/** histogram_quantile: cumulative (le, count) pairs, +Inf last; null when nothing was observed. */
function histogramQuantile (q: number, buckets: Array<[number, number]>): number | null {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0])
  const total = sorted.at(-1)?.[1] ?? 0
  if (sorted.length < 2 || sorted.at(-1)![0] !== Infinity || total <= 0) return null
  const rank = q * total
  const i = sorted.findIndex(([, c]) => c >= rank)
  if (sorted[i]![0] === Infinity) return sorted[i - 1]![0]
  const [upper, count] = sorted[i]!
  const [lower, below] = i === 0 ? [0, 0] : sorted[i - 1]!
  return count === below ? upper : lower + ((upper - lower) * (rank - below)) / (count - below)
}

/** The q-quantile between consecutive scrapes, by the `by` labels, from a histogram's buckets. */
export function quantiles (scrapes: Scrape[], family: string, q: number, by: string[], where: Where = all): Series[] {
  const maps = scrapes.map((s) => sums(s, `${family}_bucket`, [...by, 'le'], where))
  const groups = new Set<string>()
  for (const m of maps) for (const k of m.keys()) groups.add(k.lastIndexOf(' ') < 0 ? '' : k.slice(0, k.lastIndexOf(' ')))
  return [...groups].sort().map((group) => ({
    name: group.trim(),
    values: scrapes.slice(1).map((_, i) => {
      const buckets: Array<[number, number]> = []
      for (const [k, v] of maps[i + 1]!) {
        const cut = k.lastIndexOf(' ')
        if ((cut < 0 ? '' : k.slice(0, cut)) !== group) continue
        const le = k.slice(cut + 1)
        buckets.push([le === '+Inf' ? Infinity : Number(le), v - (maps[i]!.get(k) ?? 0)])
      }
      return histogramQuantile(q, buckets)
    })
  }))
}

/** Over the whole run: the quantile of everything observed between the first and the last scrape. */
export function overallQuantile (scrapes: Scrape[], family: string, q: number, where: Where): number | null {
  const first = sums(scrapes[0]!, `${family}_bucket`, ['le'], where)
  const last = sums(scrapes.at(-1)!, `${family}_bucket`, ['le'], where)
  return histogramQuantile(q, [...last].map(([le, v]) => [le === '+Inf' ? Infinity : Number(le), v - (first.get(le) ?? 0)]))
}

export const busy = (s: Series) => s.values.some((v) => v !== null && v > 0)
export const peak = (s: Series) => Math.max(0, ...s.values.filter((v): v is number => v !== null))
export const scale = (k: number) => (s: Series): Series => ({ ...s, values: s.values.map((v) => (v === null ? null : v * k)) })
