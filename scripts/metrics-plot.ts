// The service's Prometheus metrics under load, drawn for the README (docs/metrics-plot.png): the
// compiled service (dist/src/server.js) runs as a child on a PostgreSQL database and a Redis key
// prefix of its own, autocannon drives about 50 s of load in phases (protected requests, logins
// with some wrong passwords and unknown users, rotating refreshes, then all of it mixed with
// replayed old refresh tokens, grace-interval retries and password reset requests), /metrics is
// scraped every second, and per-second rates and p50/p99 (from the histogram buckets between two
// scrapes, as histogram_quantile does) are drawn as inline SVG charts in an HTML page with no
// script and nothing fetched, which headless Chromium (Debian's `chromium` package, driven by
// playwright-core, as scripts/docs-screenshot.ts) turns into a PNG. The panels mirror the Grafana
// dashboard (docs/grafana/auth-service.json). The database and the Redis keys are removed at the
// end, also when the run fails or is interrupted.
//
// Usage: npm run metrics:plot [-- out.png]   (builds, then node dist/scripts/metrics-plot.js)
//   CHROMIUM_PATH overrides /usr/bin/chromium (apt-get install -y chromium);
//   METRICS_PLOT_PG_URL (postgresql://postgres@127.0.0.1:5432/postgres: the server, where a
//   database auth_metrics_plot_<random> is made and dropped) and METRICS_PLOT_REDIS_URL
//   (redis://127.0.0.1:6379, keys under metrics-plot:<random>:).
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { chromium } from 'playwright-core'
import { runLoad, type LoadResult, type LoadSpec } from '../bench/load.js'
import { deletePrefix } from '../bench/memory.js'
import { inBatches, post as expectPost } from '../bench/http.js'
import { openLog, runNode, startChild, type Child } from '../bench/processes.js'
import { parsePrometheus, type Family } from '../test/support/prometheus.js'

const here = dirname(fileURLToPath(import.meta.url))
// dist/scripts when compiled, scripts under tsx: the repository root either way.
const root = basename(dirname(here)) === 'dist' ? resolve(here, '..', '..') : resolve(here, '..')
const dist = join(root, 'dist')
// npm runs scripts in the package's folder: a relative path is the caller's (INIT_CWD).
const out = resolve(process.env.INIT_CWD ?? process.cwd(), process.argv[2] ?? join(root, 'docs', 'metrics-plot.png'))

const PG_URL = process.env.METRICS_PLOT_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'
const REDIS_URL = process.env.METRICS_PLOT_REDIS_URL ?? 'redis://127.0.0.1:6379'
const runId = randomBytes(4).toString('hex')
const DB_NAME = `auth_metrics_plot_${runId}`
const PREFIX = `metrics-plot:${runId}:`
const BCRYPT_COST = 10
const USERS = 24
const JSON_HEADERS = { 'content-type': 'application/json', 'user-agent': 'metrics-plot (autocannon)' }

/** The service's warnings and errors, and the migration's output: removed after a run that worked. */
const logPath = join(tmpdir(), `metrics-plot-${runId}.log`)

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const say = (line: string) => console.log(`[metrics-plot] ${line}`)

// ---------------------------------------------------------------------------------------------
// The service and what it runs on

function databaseUrl(name: string): string {
  const url = new URL(PG_URL)
  url.pathname = '/' + name
  return url.toString()
}

function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) if (process.env[k] !== undefined) env[k] = process.env[k]
  return env
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** Everything to undo, in order, once (at the end, on a failure, or on Ctrl-C). */
const undo: Array<{ what: string; fn: () => Promise<unknown> }> = []
let cleaning: Promise<void> | null = null
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const { what, fn } of undo.splice(0).reverse()) {
      try {
        await fn()
      } catch (err) {
        console.error(`[metrics-plot] cleanup: ${what} failed: ${(err as Error).message}`)
      }
    }
  })()
  return cleaning
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`[metrics-plot] ${signal}: cleaning up`)
    void cleanup().then(() => process.exit(130))
  })
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers (setup and the side traffic; the load itself is autocannon)

interface Pair {
  access: string
  refresh: string
}
interface User {
  username: string
  email: string
  password: string
}

/** A POST whose status the caller counts (a refused token is an expected answer here). */
async function send(base: string, path: string, body: unknown): Promise<{ status: number }> {
  const res = await fetch(base + path, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(body) })
  await res.arrayBuffer()
  return { status: res.status }
}

// ---------------------------------------------------------------------------------------------
// Scraping

interface Scrape {
  /** Seconds since the first scrape. */
  t: number
  families: Map<string, Family>
}

function scraper(url: string) {
  const scrapes: Scrape[] = []
  let stopped = false
  let failures = 0
  let started = 0
  const loop = (async () => {
    started = performance.now()
    for (let k = 0; !stopped; k++) {
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
    async stop() {
      stopped = true
      await loop
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The load

interface Phase {
  name: string
  start: number
  end: number
}

interface Run {
  scrapes: Scrape[]
  phases: Phase[]
  side: Record<string, number>
  load: Record<string, LoadResult[]>
}

async function drive(): Promise<Run> {
  const dataDir = await mkdtemp(join(tmpdir(), 'metrics-plot-'))
  undo.push({ what: `removing ${dataDir}`, fn: () => rm(dataDir, { recursive: true, force: true }) })
  const log = openLog(logPath)
  undo.push({ what: 'closing the log', fn: () => new Promise((r) => log.end(r)) })

  // The database: made, migrated (the compiled migration script, as bench/run.ts), dropped at the end.
  await admin((c) => c.query(`CREATE DATABASE "${DB_NAME}"`))
  undo.push({ what: `dropping database ${DB_NAME}`, fn: () => admin((c) => c.query(`DROP DATABASE IF EXISTS "${DB_NAME}" WITH (FORCE)`)) })
  await runNode('migrate', join(dist, 'scripts', 'migrate.js'), [], { ...baseEnv(), DATABASE_URL: databaseUrl(DB_NAME) }, log)
  undo.push({ what: `deleting Redis keys ${PREFIX}*`, fn: () => deletePrefix(REDIS_URL, PREFIX) })
  say(`database ${DB_NAME} migrated; Redis keys under ${PREFIX}`)

  // Request and audit logs (info) go nowhere; warnings and errors to the log file (startChild, quiet).
  const service: Child = await startChild(
    'service',
    join(dist, 'src', 'server.js'),
    {
      ...baseEnv(),
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      DATABASE_URL: databaseUrl(DB_NAME),
      REDIS_URL,
      REDIS_KEY_PREFIX: PREFIX,
      JWT_SECRET: randomBytes(48).toString('base64url'),
      RATE_LIMIT_ENABLED: 'false',
      LOG_LEVEL: 'warn',
      BCRYPT_COST: String(BCRYPT_COST),
      // Mail (verification on register, password resets) is written to files there.
      DATA_DIR: dataDir
    },
    logPath,
    true
  )
  undo.push({ what: 'stopping the service', fn: () => service.stop() })
  const url = service.url
  say(`service ${url} (pid ${service.pid})`)

  // Users, and the sessions the phases use: made before the scraping starts.
  const users: User[] = Array.from({ length: USERS }, (_, i) => {
    const username = `plot_${runId}_${i}`
    return { username, email: `${username}@plot.example`, password: `${randomBytes(9).toString('base64url')}-Pw1` }
  })
  await inBatches(USERS, 4, (i) => expectPost(url, '/api/auth/register/', { ...users[i]!, password2: users[i]!.password }, 201))
  const user = (i: number) => users[i % USERS]!
  const sessions = (n: number, offset = 0) => inBatches(n, 4, (i) => expectPost<Pair>(url, '/api/auth/login/', { username: user(offset + i).username, password: user(offset + i).password }))
  const protectedPairs = await sessions(16)
  const chains = (await sessions(12, 3)).map((p) => p.refresh)
  // Rotated once now; their first refresh token is presented again in the last phase, long
  // after the grace interval (10 s): reuse detected, the session revoked.
  const victims = await inBatches(24, 4, async (i) => {
    const first = (await sessions(1, 7 + i))[0]!
    const second = await expectPost<Pair>(url, '/api/token/refresh/', { refresh: first.refresh })
    return { old: first.refresh, current: second.refresh }
  })
  // Rotated in the last phase, then the same token again at once: the grace answer.
  const graces = await sessions(12, 11)
  say(`${USERS} users, ${16 + 12 + 24 + 12} sessions`)

  // The request shapes.
  const protectedSpec = (connections: number, offset = 0): Omit<LoadSpec, 'duration'> => ({
    url,
    path: '/api/protected-endpoint/',
    connections,
    request: (i) => ({ method: 'GET', headers: { authorization: `Bearer ${protectedPairs[(offset + i) % protectedPairs.length]!.access}` } })
  })
  /** Logins: connection i is a right password, a wrong one (every `wrongEvery`-th) or an unknown user (the last). */
  const loginSpec = (connections: number, wrongEvery: number, unknown: boolean): Omit<LoadSpec, 'duration'> => ({
    url,
    path: '/api/auth/login/',
    connections,
    request: (i) => {
      const u = user(i)
      const body =
        unknown && i === connections - 1
          ? { username: `nobody_${runId}_${i}`, password: 'Wr0ng-Passphrase!' }
          : { username: u.username, password: wrongEvery > 0 && i % wrongEvery === wrongEvery - 1 ? 'Wr0ng-Passphrase!' : u.password }
      return { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(body) }
    }
  })
  // A rotation chain per connection: always the newest refresh token (kept from phase to phase).
  const refreshSpec = (connections: number): Omit<LoadSpec, 'duration'> => ({
    url,
    path: '/api/token/refresh/',
    connections,
    request: () => ({ method: 'POST', headers: JSON_HEADERS }),
    chain: { states: chains, body: (token) => JSON.stringify({ refresh: token }), next: (body) => (JSON.parse(body) as Pair).refresh }
  })

  const side: Record<string, number> = {}
  const count = (what: string, status: number) => (side[`${what} ${status}`] = (side[`${what} ${status}`] ?? 0) + 1)
  /** Replayed old tokens, the revoked sessions' current ones, grace retries and password resets, a few a second. */
  const sideTraffic = async (seconds: number) => {
    const until = Date.now() + seconds * 1000
    for (let k = 0; Date.now() < until; k++) {
      const v = victims[k]
      if (v) {
        count('refresh (old token replayed)', (await send(url, '/api/token/refresh/', { refresh: v.old })).status)
        count('refresh (its session revoked)', (await send(url, '/api/token/refresh/', { refresh: v.current })).status)
      }
      const g = graces[k]
      if (g) {
        const [a, b] = await Promise.all([send(url, '/api/token/refresh/', { refresh: g.refresh }), sleep(5).then(() => send(url, '/api/token/refresh/', { refresh: g.refresh }))])
        count('refresh (twice at once)', a.status)
        count('refresh (twice at once)', b.status)
      }
      const email = k % 3 === 2 ? `nobody_${k}@plot.example` : user(k).email
      count('password reset', (await send(url, '/api/auth/password/reset/', { email })).status)
      await sleep(400)
    }
  }

  const load: Record<string, LoadResult[]> = {}
  const keep = (name: string) => (r: LoadResult) => (load[name] ??= []).push(r)

  const scrape = scraper(url)
  const phases: Phase[] = []
  try {
    await sleep(2_000)
    const phase = async (name: string, seconds: number, runs: Array<Promise<unknown>>) => {
      const start = scrape.now()
      say(`${name} (${seconds} s)...`)
      await Promise.all(runs)
      phases.push({ name, start, end: scrape.now() })
      // The bcrypt queue drains, and the phases stand apart on the charts.
      await sleep(2_000)
    }
    await phase('protected', 10, [runLoad({ ...protectedSpec(16), duration: 10 }).then(keep('protected')), runLoad({ ...loginSpec(1, 0, false), duration: 10 }).then(keep('login'))])
    await phase('logins', 10, [runLoad({ ...loginSpec(8, 3, true), duration: 10 }).then(keep('login')), runLoad({ ...protectedSpec(4), duration: 10 }).then(keep('protected'))])
    await phase('refresh', 12, [runLoad({ ...refreshSpec(12), duration: 12 }).then(keep('refresh')), runLoad({ ...protectedSpec(4), duration: 12 }).then(keep('protected'))])
    await phase('mixed + reuse', 12, [
      runLoad({ ...refreshSpec(8), duration: 12 }).then(keep('refresh')),
      runLoad({ ...loginSpec(3, 3, false), duration: 12 }).then(keep('login')),
      runLoad({ ...protectedSpec(8, 8), duration: 12 }).then(keep('protected')),
      sideTraffic(11.5)
    ])
    await sleep(1_000)
  } finally {
    await scrape.stop()
  }
  say(`${scrape.scrapes.length} scrapes`)
  return { scrapes: scrape.scrapes, phases, side, load }
}

// ---------------------------------------------------------------------------------------------
// From scrapes to series

type Labels = Record<string, string>
type Where = (labels: Labels) => boolean
const all: Where = () => true

/** A sample name's values summed by the `by` labels (joined with a space), over the samples `where` keeps. */
function sums(s: Scrape, name: string, by: string[], where: Where = all): Map<string, number> {
  const family = s.families.get(name.replace(/_(bucket|sum|count)$/, '')) ?? s.families.get(name)
  const out = new Map<string, number>()
  for (const x of family?.samples ?? []) {
    if (x.name !== name || !where(x.labels)) continue
    const key = by.map((l) => x.labels[l] ?? '').join(' ')
    out.set(key, (out.get(key) ?? 0) + x.value)
  }
  return out
}

interface Series {
  name: string
  values: Array<number | null>
}

/** Per second between consecutive scrapes, by the `by` labels. */
function rates(scrapes: Scrape[], name: string, by: string[], where: Where = all): Series[] {
  const keys = new Set<string>()
  const maps = scrapes.map((s) => sums(s, name, by, where))
  for (const m of maps) for (const k of m.keys()) keys.add(k)
  return [...keys].sort().map((key) => ({
    name: key,
    values: scrapes.slice(1).map((s, i) => ((maps[i + 1]!.get(key) ?? 0) - (maps[i]!.get(key) ?? 0)) / (s.t - scrapes[i]!.t))
  }))
}

/** A gauge's value at each scrape but the first (aligned with the rates). */
function gauge(scrapes: Scrape[], name: string, by: string[] = []): Series[] {
  const keys = new Set<string>()
  const maps = scrapes.map((s) => sums(s, name, by))
  for (const m of maps) for (const k of m.keys()) keys.add(k)
  return [...keys].sort().map((key) => ({ name: key, values: maps.slice(1).map((m) => m.get(key) ?? null) }))
}

/** histogram_quantile: cumulative (le, count) pairs, +Inf last; null when nothing was observed. */
export function histogramQuantile(q: number, buckets: Array<[number, number]>): number | null {
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
function quantiles(scrapes: Scrape[], family: string, q: number, by: string[], where: Where = all): Series[] {
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
function overallQuantile(scrapes: Scrape[], family: string, q: number, where: Where): number | null {
  const first = sums(scrapes[0]!, `${family}_bucket`, ['le'], where)
  const last = sums(scrapes.at(-1)!, `${family}_bucket`, ['le'], where)
  return histogramQuantile(q, [...last].map(([le, v]) => [le === '+Inf' ? Infinity : Number(le), v - (first.get(le) ?? 0)]))
}

const busy = (s: Series) => s.values.some((v) => v !== null && v > 0)
const peak = (s: Series) => Math.max(0, ...s.values.filter((v): v is number => v !== null))
const scale = (k: number) => (s: Series): Series => ({ ...s, values: s.values.map((v) => (v === null ? null : v * k)) })

// ---------------------------------------------------------------------------------------------
// Drawing: inline SVG line charts

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f', '#393b79', '#637939']
type Unit = 'rps' | 'ms' | 'count' | 'cores'

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

function fmt(v: number, unit: Unit): string {
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
function linearTicks(max: number): number[] {
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

interface ChartSpec {
  title: string
  note: string
  unit: Unit
  log?: boolean
  series: Series[]
}

function chart(spec: ChartSpec, times: number[], phases: Phase[], colors: Map<string, string>): string {
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

// ---------------------------------------------------------------------------------------------
// The page

function render(run: Run): { html: string; summary: string[] } {
  const { scrapes, phases } = run
  if (scrapes.length < 5) throw new Error(`only ${scrapes.length} scrapes`)
  const times = scrapes.slice(1).map((s) => s.t)
  const notMetrics: Where = (l) => l.route !== '/metrics'

  const byRoute = rates(scrapes, 'auth_http_request_duration_seconds_count', ['route'], notMetrics).filter(busy)
  const p99Route = quantiles(scrapes, 'auth_http_request_duration_seconds', 0.99, ['route'], notMetrics).filter(busy).map(scale(1000))
  const logins = rates(scrapes, 'auth_events_total', ['event', 'outcome'], (l) => l.event === 'login').filter(busy)
  const refreshes = rates(scrapes, 'auth_events_total', ['event', 'outcome'], (l) => l.event === 'refresh').filter(busy)
  const tokenStore = quantiles(scrapes, 'auth_dependency_duration_seconds', 0.99, ['operation'], (l) => l.dependency === 'token_store').filter(busy).map(scale(1000))
  const database = quantiles(scrapes, 'auth_dependency_duration_seconds', 0.99, ['operation'], (l) => l.dependency === 'database').filter(busy).map(scale(1000))
  const queue = gauge(scrapes, 'auth_bcrypt_queue_depth').map((s) => ({ ...s, name: 'queue depth' }))
  const waitP99 = quantiles(scrapes, 'auth_bcrypt_wait_seconds', 0.99, []).map((s) => ({ ...scale(1000)(s), name: 'wait p99' }))
  const waitP50 = quantiles(scrapes, 'auth_bcrypt_wait_seconds', 0.5, []).map((s) => ({ ...scale(1000)(s), name: 'wait p50' }))
  const cpu = rates(scrapes, 'process_cpu_seconds_total', []).map((s) => ({ ...s, name: 'CPU (cores)' }))
  const lag = gauge(scrapes, 'nodejs_eventloop_lag_p99_seconds').map((s) => ({ ...scale(1000)(s), name: 'event-loop lag p99' }))
  const errors5xx = rates(scrapes, 'auth_http_request_duration_seconds_count', [], (l) => l.status.startsWith('5'))

  // One color per name across the panels (a route is the same color in req/s and in latency).
  const colors = new Map<string, string>()
  const color = (names: string[]) => names.forEach((n) => colors.has(n) || colors.set(n, PALETTE[colors.size % PALETTE.length]!))
  color([...byRoute, ...p99Route].map((s) => s.name))
  // As the dashboard's overrides: success green, wrong password and reuse red.
  const outcomes: Record<string, string> = {
    'login success': '#2ca02c', 'login wrong_password': '#d62728', 'login unknown_user': '#9467bd', 'login inactive': '#8c564b', 'login throttled': '#ff7f0e', 'login unverified': '#17becf',
    'refresh rotated': '#2ca02c', 'refresh grace': '#1f77b4', 'refresh reuse_detected': '#d62728', 'refresh revoked': '#ff7f0e', 'refresh unknown': '#9467bd'
  }
  for (const [name, c] of Object.entries(outcomes)) colors.set(name, c)
  const before = colors.size
  ;[...tokenStore, ...database].forEach((s, i) => colors.has(s.name) || colors.set(s.name, PALETTE[(i + before) % PALETTE.length]!))
  colors.set('queue depth', '#ff7f0e').set('wait p99', '#d62728').set('wait p50', '#1f77b4').set('CPU (cores)', '#2ca02c').set('event-loop lag p99', '#9467bd')

  const panels: ChartSpec[] = [
    { title: 'Requests/s by route', note: 'rate of auth_http_request_duration_seconds_count, every method and status (the scraper\'s own /metrics left out)', unit: 'rps', series: byRoute },
    { title: 'p99 latency by route', note: 'histogram_quantile(0.99) of auth_http_request_duration_seconds_bucket between scrapes', unit: 'ms', log: true, series: p99Route },
    { title: 'Logins/s by outcome', note: 'auth_events_total{event="login"}: success and the failures by cause', unit: 'rps', series: logins },
    {
      title: 'Refresh outcomes/s',
      note: 'auth_events_total{event="refresh"}: rotated; grace (same token again at once); reuse_detected (an old one later: session revoked); revoked',
      unit: 'rps',
      log: true,
      series: refreshes
    },
    { title: 'Token store (Redis) p99 by operation', note: 'auth_dependency_duration_seconds{dependency="token_store"}', unit: 'ms', log: true, series: tokenStore },
    { title: 'Database p99 by operation', note: 'auth_dependency_duration_seconds{dependency="database"}', unit: 'ms', log: true, series: database },
    { title: 'bcrypt queue depth', note: `auth_bcrypt_queue_depth at each scrape (cost ${BCRYPT_COST})`, unit: 'count', series: queue },
    { title: 'bcrypt wait for a worker: p50 and p99', note: 'auth_bcrypt_wait_seconds_bucket between scrapes', unit: 'ms', series: [...waitP99, ...waitP50] },
    { title: 'Process CPU', note: 'rate of process_cpu_seconds_total (bcrypt worker threads included)', unit: 'cores', series: cpu },
    { title: 'Event-loop lag p99', note: 'nodejs_eventloop_lag_p99_seconds', unit: 'ms', series: lag }
  ]

  // The figures of the run.
  const total = (name: string, by: string[], where: Where = all) => {
    const first = sums(scrapes[0]!, name, by, where)
    return [...sums(scrapes.at(-1)!, name, by, where)].map(([k, v]) => [k, v - (first.get(k) ?? 0)] as const).filter(([, v]) => v > 0)
  }
  const seconds = scrapes.at(-1)!.t - scrapes[0]!.t
  const routeRows = byRoute.map((s) => {
    const n = total('auth_http_request_duration_seconds_count', ['route'], (l) => l.route === s.name)[0]?.[1] ?? 0
    const p50 = overallQuantile(scrapes, 'auth_http_request_duration_seconds', 0.5, (l) => l.route === s.name)
    const p99 = overallQuantile(scrapes, 'auth_http_request_duration_seconds', 0.99, (l) => l.route === s.name)
    return { route: s.name, requests: n, peak: peak(s), p50: p50 === null ? null : p50 * 1000, p99: p99 === null ? null : p99 * 1000 }
  })
  const statuses = total('auth_http_request_duration_seconds_count', ['status'], notMetrics)
  const eventTotals = total('auth_events_total', ['event', 'outcome'])
  const fivexx = statuses.filter(([s]) => s.startsWith('5')).reduce((n, [, v]) => n + v, 0)
  const summary = [
    `${scrapes.length} scrapes over ${seconds.toFixed(0)} s; phases: ${phases.map((p) => `${p.name} ${p.start.toFixed(0)}-${p.end.toFixed(0)} s`).join(', ')}`,
    ...routeRows.map((r) => `${r.route}: ${r.requests} requests, peak ${r.peak.toFixed(0)}/s, p50 ${r.p50?.toFixed(1)} ms, p99 ${r.p99?.toFixed(1)} ms (whole run)`),
    `statuses: ${statuses.map(([s, v]) => `${s} ${v}`).join(', ')}; 5xx ${fivexx}`,
    `events: ${eventTotals.map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `bcrypt: queue depth peak ${peak(queue[0] ?? { name: '', values: [] })}, wait p99 peak ${peak(waitP99[0] ?? { name: '', values: [] }).toFixed(0)} ms; CPU peak ${peak(cpu[0] ?? { name: '', values: [] }).toFixed(2)} cores; 5xx/s peak ${peak(errors5xx[0] ?? { name: '', values: [] })}`
  ]

  const table = `<table><tr><th>route</th><th>requests</th><th>peak req/s</th><th>p50</th><th>p99</th></tr>${routeRows
    .map((r) => `<tr><td>${esc(r.route)}</td><td>${r.requests}</td><td>${r.peak.toFixed(0)}</td><td>${r.p50 === null ? '-' : esc(fmt(r.p50, 'ms'))}</td><td>${r.p99 === null ? '-' : esc(fmt(r.p99, 'ms'))}</td></tr>`)
    .join('')}</table>`
  const eventList = eventTotals.map(([k, v]) => `<span class="ev">${esc(k)} <b>${v}</b></span>`).join('')
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>auth service metrics under load</title><style>
body{font:13px/1.35 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1d2329;background:#f6f7f9;margin:0;padding:18px 22px;width:1326px}
h1{font-size:20px;margin:0 0 4px}.sub{color:#555;margin:0 0 12px}
.top{display:flex;gap:22px;align-items:flex-start;margin-bottom:12px}
table{border-collapse:collapse;background:#fff;border:1px solid #d0d4da}td,th{padding:3px 10px;border-bottom:1px solid #eceef1;text-align:right}td:first-child,th:first-child{text-align:left;font-family:"DejaVu Sans Mono",monospace;font-size:12px}
th{background:#eef0f3;font-weight:600}.events{flex:1;background:#fff;border:1px solid #d0d4da;padding:6px 10px}.events h3{margin:0 0 4px;font-size:13px}
.ev{display:inline-block;margin:0 14px 3px 0;font-family:"DejaVu Sans Mono",monospace;font-size:12px}
.grid{display:grid;grid-template-columns:660px 660px;gap:10px}
.panel{background:#fff;border:1px solid #d0d4da;border-radius:4px;padding:8px 10px 6px}
h2{font-size:14px;margin:0}h2 small{color:#777;font-weight:400}.note{margin:1px 0 2px;color:#666;font-size:11.5px;font-family:"DejaVu Sans Mono",monospace}
svg{display:block}.tick{font-size:10.5px;fill:#555}.phase{font-size:10.5px;fill:#6b5b95}
.legend{font-size:12px;margin-top:2px}.key{display:inline-block;margin:0 12px 2px 0}.key i{display:inline-block;width:14px;height:3px;vertical-align:middle;margin-right:5px}.peak{color:#888;font-size:11px}
</style></head><body>
<h1>auth service: Prometheus metrics under load</h1>
<p class="sub">GET /metrics scraped every second for ${seconds.toFixed(0)} s; per-second rates and quantiles between scrapes. One instance (PostgreSQL + Redis, BCRYPT_COST=${BCRYPT_COST}) on ${availableParallelism()} cores (${esc(cpus()[0]?.model ?? 'unknown CPU')}), load from autocannon on the same machine; shaded: the load phases. ${new Date().toISOString().slice(0, 10)}</p>
<div class="top">${table}<div class="events"><h3>Auth events in the run (auth_events_total)</h3>${eventList}<div class="note">5xx responses: ${fivexx}</div></div></div>
<div class="grid">${panels.map((p) => chart(p, times, phases, colors)).join('\n')}</div>
</body></html>`
  return { html, summary }
}

async function screenshot(html: string): Promise<void> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
  try {
    const page = await browser.newPage({ viewport: { width: 1370, height: 900 } })
    // The page is self-contained: anything it would fetch is a mistake.
    const fetched: string[] = []
    page.on('request', (request) => {
      if (!/^(data|about):/.test(request.url())) fetched.push(request.url())
    })
    await page.setContent(html, { waitUntil: 'load' })
    if (fetched.length > 0) throw new Error(`the page fetched ${fetched.join(', ')}`)
    await mkdir(dirname(out), { recursive: true })
    await page.screenshot({ path: out, fullPage: true })
  } finally {
    await browser.close()
  }
}

async function main(): Promise<void> {
  for (const file of [join(dist, 'src', 'server.js'), join(dist, 'scripts', 'migrate.js')]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: npm run build first (npm run metrics:plot does)`)
  }
  const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
  if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: apt-get install -y chromium (or set CHROMIUM_PATH)`)
  let run: Run
  try {
    run = await drive()
  } finally {
    await cleanup()
  }
  const { html, summary } = render(run)
  for (const line of summary) say(line)
  for (const [what, n] of Object.entries(run.side)) say(`side traffic: ${what}: ${n}`)
  for (const [name, results] of Object.entries(run.load)) {
    const requests = results.reduce((n, r) => n + r.requests, 0)
    const non2xx = results.reduce((n, r) => n + r.non2xx, 0)
    const errors = results.reduce((n, r) => n + r.errors + r.timeouts, 0)
    say(`autocannon ${name}: ${requests} requests, ${non2xx} non-2xx, ${errors} errors/timeouts`)
  }
  await screenshot(html)
  await rm(logPath, { force: true })
  say(`plot: ${out}`)
}

main().then(
  () => process.exit(0),
  async (err: Error) => {
    console.error(`[metrics-plot] failed: ${err.stack ?? err.message}\n(the service's log: ${logPath})`)
    await cleanup()
    process.exit(1)
  }
)
