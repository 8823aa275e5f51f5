// Driving load: the compiled service (dist/src/server.js) as a child on a PostgreSQL database and
// a Redis key prefix of its own, users and sessions made through its API, then about 50 s of
// load in phases from autocannon and side traffic, while /metrics is scraped. The database and
// the Redis keys are removed at the end, also when the run fails or is interrupted.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { withClient } from '../bench/database.js'
import { inBatches, post as expectPost } from '../bench/http.js'
import { runLoad, type LoadResult, type LoadSpec } from '../bench/load.js'
import { deletePrefix } from '../bench/memory.js'
import { baseEnv, migrate, openLog, startChild, type Child } from '../bench/processes.js'
import { scraper, type Scrape } from './metrics-plot-series.js'

const here = dirname(fileURLToPath(import.meta.url))
// dist/scripts when compiled, scripts under tsx: the repository root either way.
export const root = basename(dirname(here)) === 'dist' ? resolve(here, '..', '..') : resolve(here, '..')
export const dist = join(root, 'dist')

const PG_URL = process.env.METRICS_PLOT_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'
const REDIS_URL = process.env.METRICS_PLOT_REDIS_URL ?? 'redis://127.0.0.1:6379'
const runId = randomBytes(4).toString('hex')
const DB_NAME = `auth_metrics_plot_${runId}`
const PREFIX = `metrics-plot:${runId}:`
export const BCRYPT_COST = 10
const USERS = 24
const JSON_HEADERS = { 'content-type': 'application/json', 'user-agent': 'metrics-plot (autocannon)' }

/** The service's warnings and errors, and the migration's output: removed after a run that worked. */
export const logPath = join(tmpdir(), `metrics-plot-${runId}.log`)

export const say = (line: string) => console.log(`[metrics-plot] ${line}`)

// ---------------------------------------------------------------------------------------------
// The service and what it runs on

function databaseUrl (name: string): string {
  const url = new URL(PG_URL)
  url.pathname = '/' + name
  return url.toString()
}

/** One statement on the server's maintenance database (making and dropping ours). */
const admin = (sql: string) => withClient(PG_URL, (c) => c.query(sql))

/** Everything to undo, in order, once (at the end, on a failure, or on Ctrl-C). */
const undo: Array<{ what: string; fn: () => Promise<unknown> }> = []
let cleaning: Promise<void> | null = null
export function cleanup (): Promise<void> {
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
async function send (base: string, path: string, body: unknown): Promise<{ status: number }> {
  const res = await fetch(base + path, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(body) })
  await res.arrayBuffer()
  return { status: res.status }
}

// ---------------------------------------------------------------------------------------------
// The load

export interface Phase {
  name: string
  start: number
  end: number
}

export interface Run {
  scrapes: Scrape[]
  phases: Phase[]
  side: Record<string, number>
  load: Record<string, LoadResult[]>
}

export async function drive (): Promise<Run> {
  const dataDir = await mkdtemp(join(tmpdir(), 'metrics-plot-'))
  undo.push({ what: `removing ${dataDir}`, fn: () => rm(dataDir, { recursive: true, force: true }) })
  const log = openLog(logPath)
  undo.push({ what: 'closing the log', fn: () => new Promise((resolve) => log.end(resolve)) })

  // The database: made, migrated (the compiled migration script, as bench/run.ts), dropped at the end.
  await admin(`CREATE DATABASE "${DB_NAME}"`)
  undo.push({ what: `dropping database ${DB_NAME}`, fn: () => admin(`DROP DATABASE IF EXISTS "${DB_NAME}" WITH (FORCE)`) })
  await migrate(dist, databaseUrl(DB_NAME), log)
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
