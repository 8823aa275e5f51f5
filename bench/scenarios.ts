// The load scenarios, run by autocannon against either target (the service or the baseline),
// and the HTTP helpers that set them up.
import { USER_AGENT } from './agent.js'
import { inBatches, post } from './http.js'
import { runLoad, type LoadResult, type LoadSpec } from './load.js'
import { opts } from './options.js'

// The setup helpers live in http.ts (no benchmark options there: scripts use them too).
export { post } from './http.js'

export interface Pair {
  access: string
  refresh: string
}
export interface BenchUser {
  id: string
  username: string
  password: string
}

/** The targets of a scenario: the service's routes, the baseline's, or (protected, verify) the baseline's without the store. */
export interface Target {
  kind: 'service' | 'baseline' | 'ceiling'
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
async function accessPairs (target: Target, sessions: () => Promise<Pair[]>): Promise<Pair[]> {
  const known = accessSessions.get(target)
  const pairs = known
    ? await inBatches(known.length, 8, (i) => post<Pair>(target.url, target.paths.refresh, { refresh: known[i]!.refresh }))
    : await sessions()
  accessSessions.set(target, pairs)
  return pairs
}

/** Runs of one scenario on one target merged: rates over the summed time, request-weighted percentiles. */
export function merge (runs: LoadResult[]): LoadResult {
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

export async function scenario (
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

/** Sessions revoked during the revoke scenario. */
const REVOCATIONS = 100

/**
 * Protected load on the service while other sessions are revoked one after another: each victim
 * is first cached as alive (two protected calls), then logged out, then asked for at once. A 200
 * after the logout is a stale answer (the target: none). The load's own sessions stay alive.
 */
export async function revokeUnderLoad (target: Target, users: BenchUser[]): Promise<{ load: LoadResult; revoked: number; stale: number }> {
  const user = (i: number) => users[i % users.length]!
  const pairs = await accessPairs(target, () => inBatches(opts.connections, 4, (i) => target.session(user(i))))
  const victims = await inBatches(REVOCATIONS, 4, (i) => target.session(user(i)))
  const bearer = (access: string) => ({ authorization: `Bearer ${access}`, 'user-agent': USER_AGENT })
  const status = async (path: string, access: string, body?: unknown) =>
    (await fetch(target.url + path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: body === undefined ? bearer(access) : { ...bearer(access), ...json },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    }).then(async (r) => {
      await r.arrayBuffer()
      return r.status
    }))
  let revoked = 0
  let stale = 0
  const gap = (opts.duration * 1000) / (REVOCATIONS + 1)
  const revoker = (async () => {
    for (const v of victims) {
      await sleep(gap)
      for (let k = 0; k < 2; k++) await status(target.paths.protected, v.access)
      if ((await status('/api/auth/logout/', v.access, { refresh: v.refresh })) !== 200) continue
      revoked++
      if ((await status(target.paths.protected, v.access)) === 200) stale++
    }
  })()
  const load = await runLoad({
    url: target.url,
    path: target.paths.protected,
    connections: opts.connections,
    request: (i) => ({ method: 'GET', headers: { authorization: `Bearer ${pairs[i]!.access}` } }),
    duration: opts.duration
  })
  await revoker
  return { load, revoked, stale }
}

/**
 * Parallel runs (one per instance) as one: rates summed; percentiles are the worst instance's,
 * as the runs' histograms are not at hand to merge and the worst is the one a client may meet.
 */
export function parallel (runs: LoadResult[]): LoadResult {
  const sum = (k: 'rps' | 'requests' | 'non2xx' | 'errors' | 'timeouts') => runs.reduce((n, r) => n + r[k], 0)
  const worst = (k: 'p50' | 'p97_5' | 'p99' | 'max' | 'duration') => Math.max(...runs.map((r) => r[k]))
  return {
    rps: sum('rps'),
    requests: sum('requests'),
    duration: worst('duration'),
    p50: worst('p50'),
    p97_5: worst('p97_5'),
    p99: worst('p99'),
    max: worst('max'),
    non2xx: sum('non2xx'),
    errors: sum('errors'),
    timeouts: sum('timeouts'),
    samples: runs.flatMap((r) => r.samples).slice(0, 5)
  }
}

/**
 * One token scenario spread over instances of the service that share PostgreSQL and Redis: the
 * C connections are cut into one group per instance (C/N each) and connection group k talks only
 * to instance k, one autocannon run per group, all at once in this process. No proxy in between,
 * so nothing but the instances is added to the path; the load generator is the same process
 * and the same C connections as with one instance, so the two figures differ only in the
 * instances behind them. `measure` wraps the counted part (not the warm-up).
 */
export async function spread (
  name: 'protected' | 'verify' | 'refresh',
  targets: Target[],
  users: BenchUser[],
  duration: number,
  measure: (run: () => Promise<LoadResult[]>) => Promise<LoadResult[]>
): Promise<{ total: LoadResult; instances: LoadResult[] }> {
  const C = opts.connections
  const first = targets[0]!
  const sessions = () => inBatches(C, 4, (i) => first.session(users[i % users.length]!))
  // Sessions live in the shared Redis: made (or rotated) through the first instance, valid on all.
  const pairs = name === 'refresh' ? await sessions() : await accessPairs(first, sessions)
  let offset = 0
  const specs = targets.map((target, k): Omit<LoadSpec, 'duration'> => {
    const size = Math.floor(C / targets.length) + (k < C % targets.length ? 1 : 0)
    const mine = pairs.slice(offset, (offset += size))
    const common = { url: target.url, path: target.paths[name], connections: size }
    switch (name) {
      case 'protected':
        return { ...common, request: (i) => ({ method: 'GET', headers: { authorization: `Bearer ${mine[i]!.access}` } }) }
      case 'verify':
        return { ...common, request: (i) => ({ method: 'POST', headers: json, body: JSON.stringify({ token: mine[i]!.access }) }) }
      case 'refresh':
        return {
          ...common,
          request: () => ({ method: 'POST', headers: json }),
          // Each group's own chains, kept from the warm-up into the counted run.
          chain: { states: mine.map((p) => p.refresh), body: (token) => JSON.stringify({ refresh: token }), next: (body) => (JSON.parse(body) as Pair).refresh }
        }
      default:
        throw new Error(`scaling: no scenario ${String(name)}`)
    }
  })
  if (opts.warmup > 0) await Promise.all(specs.map((spec) => runLoad({ ...spec, duration: opts.warmup })))
  const runs = await measure(() => Promise.all(specs.map((spec) => runLoad({ ...spec, duration }))))
  await sleep(300)
  return { total: parallel(runs), instances: runs }
}
