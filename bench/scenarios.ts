// The load scenarios, run by autocannon against either target (the service or the baseline),
// and the HTTP helpers that set them up.
import { USER_AGENT } from './agent.js'
import { runLoad, type LoadResult, type LoadSpec } from './load.js'
import { opts } from './options.js'

// ---------------------------------------------------------------------------------------------
// HTTP helpers (setup only; the load itself is autocannon)

export async function post<T>(base: string, path: string, body: unknown, expect = 200): Promise<T> {
  const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const text = await res.text()
  if (res.status !== expect) {
    const hint = res.status === 429 ? ' (rate limited: start the service with RATE_LIMIT_ENABLED=false)' : ''
    throw new Error(`POST ${path}: ${res.status} ${text.slice(0, 300)}${hint}`)
  }
  return JSON.parse(text) as T
}

export async function inBatches<T>(count: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      while (next < count) {
        const i = next++
        out[i] = await fn(i)
      }
    })
  )
  return out
}

export interface Pair {
  access: string
  refresh: string
}
export interface BenchUser {
  id: string
  username: string
  password: string
}

/** The two targets of every scenario: the service's routes, or the baseline's. */
export interface Target {
  kind: 'service' | 'baseline'
  url: string
  paths: Record<'protected' | 'verify' | 'refresh' | 'login', string>
  /** A new session of users[i] (login on the service; the bench-only route on the baseline). */
  session(user: BenchUser): Promise<Pair>
}

// ---------------------------------------------------------------------------------------------
// Scenarios

const json = { 'content-type': 'application/json', 'user-agent': USER_AGENT }

// The sessions of the protected and verify runs, per target: made once, then rotated once before
// each run (one refresh per connection) so every run has fresh access tokens of live sessions.
const accessSessions = new Map<Target, Pair[]>()
async function accessPairs(target: Target, sessions: () => Promise<Pair[]>): Promise<Pair[]> {
  const known = accessSessions.get(target)
  const pairs = known
    ? await inBatches(known.length, 8, (i) => post<Pair>(target.url, target.paths.refresh, { refresh: known[i]!.refresh }))
    : await sessions()
  accessSessions.set(target, pairs)
  return pairs
}

/** Runs of one scenario on one target merged: rates over the summed time, request-weighted percentiles. */
export function merge(runs: LoadResult[]): LoadResult {
  const requests = runs.reduce((n, r) => n + r.requests, 0)
  const duration = runs.reduce((n, r) => n + r.duration, 0)
  const weighted = (k: 'p50' | 'p97_5' | 'p99') => runs.reduce((n, r) => n + r[k] * r.requests, 0) / Math.max(1, requests)
  const sum = (k: 'non2xx' | 'errors' | 'timeouts') => runs.reduce((n, r) => n + r[k], 0)
  return {
    rps: requests / duration,
    requests,
    duration,
    p50: weighted('p50'),
    p97_5: weighted('p97_5'),
    p99: weighted('p99'),
    max: Math.max(...runs.map((r) => r.max)),
    non2xx: sum('non2xx'),
    errors: sum('errors'),
    timeouts: sum('timeouts'),
    samples: runs.flatMap((r) => r.samples).slice(0, 5)
  }
}

export async function scenario(
  name: 'protected' | 'verify' | 'refresh' | 'login' | 'mixed',
  target: Target,
  users: BenchUser[],
  duration = name === 'refresh' ? opts.refreshDuration : opts.duration
): Promise<LoadResult | { refresh: LoadResult; login: LoadResult }> {
  const C = opts.connections
  const user = (i: number) => users[i % users.length]!
  // Fresh sessions right before each scenario: access tokens never expire mid-run.
  const sessions = () => inBatches(C, 4, (i) => target.session(user(i)))
  // autocannon stops sending at the end of a run, but logins already queued in the target for a
  // bcrypt worker still run and would steal the next run's CPU. The worker queue is FIFO: once
  // one more login has been answered, the backlog is gone.
  const drain = async (logins: number) => {
    if (logins > 0) await post(target.url, target.paths.login, { username: user(0).username, password: user(0).password })
    await sleep(300)
  }
  const timed = async (spec: Omit<LoadSpec, 'duration'>, duration: number, logins = 0) => {
    if (opts.warmup > 0) {
      await runLoad({ ...spec, duration: opts.warmup })
      await drain(logins)
    }
    const result = await runLoad({ ...spec, duration })
    await drain(logins)
    return result
  }
  const refreshSpec = (pairs: Pair[], connections: number): Omit<LoadSpec, 'duration'> => ({
    url: target.url,
    path: target.paths.refresh,
    connections,
    request: () => ({ method: 'POST', headers: json }),
    chain: {
      states: pairs.map((p) => p.refresh),
      body: (token) => JSON.stringify({ refresh: token }),
      next: (body) => (JSON.parse(body) as Pair).refresh
    }
  })
  const loginSpec = (connections: number): Omit<LoadSpec, 'duration'> => ({
    url: target.url,
    path: target.paths.login,
    connections,
    request: (i) => ({ method: 'POST', headers: json, body: JSON.stringify({ username: user(i).username, password: user(i).password }) })
  })

  switch (name) {
    case 'protected': {
      const pairs = await accessPairs(target, sessions)
      return timed(
        { url: target.url, path: target.paths.protected, connections: C, request: (i) => ({ method: 'GET', headers: { authorization: `Bearer ${pairs[i]!.access}` } }) },
        duration
      )
    }
    case 'verify': {
      const pairs = await accessPairs(target, sessions)
      return timed(
        { url: target.url, path: target.paths.verify, connections: C, request: (i) => ({ method: 'POST', headers: json, body: JSON.stringify({ token: pairs[i]!.access }) }) },
        duration
      )
    }
    case 'refresh':
      return timed(refreshSpec(await sessions(), C), duration)
    case 'login':
      return timed(loginSpec(C), opts.duration, C)
    case 'mixed': {
      const spec = refreshSpec(await sessions(), C)
      // Warm up both together, then measure both together.
      if (opts.warmup > 0) {
        await Promise.all([runLoad({ ...spec, duration: opts.warmup }), runLoad({ ...loginSpec(opts.loginConnections), duration: opts.warmup })])
        await drain(opts.loginConnections)
      }
      const [refresh, login] = await Promise.all([
        runLoad({ ...spec, duration: opts.duration }),
        runLoad({ ...loginSpec(opts.loginConnections), duration: opts.duration })
      ])
      await drain(opts.loginConnections)
      return { refresh, login }
    }
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
