// The harness itself: each connection follows its own rotation chain (always the newest token it
// received), and the table's verdicts follow the targets. Nothing here is timed.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { runLoad, type LoadResult } from './load.js'
import { evaluate, type Report } from './report.js'

t.test('refresh chains: one per connection, always the newest token', async (t) => {
  // A rotation server: chain c's current token is `c.n`; anything else is a 401.
  const current = new Map<string, number>()
  let stale = 0
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      const token = String((JSON.parse(body) as { refresh: string }).refresh)
      const [chain, n] = token.split('.')
      if (current.get(chain!) !== Number(n)) {
        stale++
        res.writeHead(401).end('{"detail":"Token is blacklisted"}')
        return
      }
      current.set(chain!, Number(n) + 1)
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access: 'a', refresh: `${chain}.${Number(n) + 1}` }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const states = ['c0.0', 'c1.0', 'c2.0', 'c3.0']
  for (const s of states) current.set(s.split('.')[0]!, 0)
  const result = await runLoad({
    url,
    path: '/refresh',
    connections: 4,
    duration: 1,
    request: () => ({ method: 'POST', headers: { 'content-type': 'application/json' } }),
    chain: { states, body: (token) => JSON.stringify({ refresh: token }), next: (body) => (JSON.parse(body) as { refresh: string }).refresh }
  })
  t.equal(stale, 0, 'no request sent an old token')
  t.equal(result.non2xx, 0)
  t.equal(result.errors, 0)
  t.ok(result.requests > 4, 'requests were made')
  // Every chain moved, and the states kept for a next run are the chains' newest tokens (or the
  // one before, when the run stopped while its last rotation was in flight).
  let rotations = 0
  for (const [i, state] of states.entries()) {
    const [chain, n] = state.split('.')
    t.equal(chain, `c${i}`, 'each connection kept its own chain')
    t.ok(Number(n) > 0, `chain ${chain} rotated`)
    t.ok(current.get(chain!)! - Number(n) <= 1, `chain ${chain} state is current or one behind`)
    rotations += current.get(chain!)!
  }
  t.ok(rotations >= result.requests, 'every counted response was a rotation')
})

const load = (rps: number, extra: Partial<LoadResult> = {}): LoadResult => ({
  rps, requests: rps * 10, duration: 10, p50: 1, p97_5: 2, p99: 3, max: 5, non2xx: 0, errors: 0, timeouts: 0, samples: [], ...extra
})

function report (scenarios: Report['scenarios']): Report {
  return {
    machine: { cpu: 'x', cores: 2, node: 'v20', loadAverageAtStart: [0, 0, 0], loadAverageAtEnd: [0, 0, 0] },
    settings: { connections: 32, loginConnections: 8, duration: 10, refreshDuration: 60, logLevel: 'info' },
    bcrypt: { compareMs: 250, loginBound: 8, poolRate: 7.8 },
    scenarios,
    probes: [],
    memory: null
  }
}

t.test('verdicts follow the targets', async (t) => {
  const sc = (name: 'protected' | 'verify' | 'refresh' | 'login', s: LoadResult, b: LoadResult) => ({ name, service: s, baseline: b, loadAverage: 0, otherCpu: 0 })
  t.equal(evaluate(report([sc('protected', load(1150), load(1000))])).passed, true, '1.15 x the Redis baseline passes')
  t.equal(evaluate(report([sc('verify', load(1100), load(1000))])).passed, false, '1.10 fails')
  t.equal(evaluate(report([sc('protected', load(800), load(0))])).passed, false, 'a baseline that served nothing is not a pass')
  const capped = (ceiling: number) => ({ ...sc('protected', load(1200), load(1000)), ceiling: load(ceiling) })
  t.equal(evaluate(report([capped(1400)])).passed, true, '0.86 of the no-store ceiling passes')
  t.equal(evaluate(report([capped(1500)])).passed, false, '0.80 of it fails')
  t.equal(evaluate(report([sc('refresh', load(900), load(1000))])).passed, true, 'refresh at 0.90 passes')
  t.equal(evaluate(report([sc('refresh', load(850), load(1000))])).passed, false, 'refresh at 0.85 fails')
  t.equal(evaluate(report([sc('refresh', load(950, { non2xx: 1 }), load(1000))])).passed, false, 'one non-2xx fails refresh')
  const revoke = (stale: number) => ({ name: 'revoke' as const, service: load(1000), baseline: load(1000), revoked: 100, stale, loadAverage: 0, otherCpu: 0 })
  t.equal(evaluate(report([revoke(0)])).passed, true, 'no revoked session accepted under load passes')
  t.equal(evaluate(report([revoke(1)])).passed, false, 'one accepted fails')
  const db = (rps: number) => ({ name: 'protected-db' as const, service: load(rps), baseline: load(1000), loadAverage: 0, otherCpu: 0 })
  t.equal(evaluate(report([db(900)])).passed, true, 'database store at 0.90 of the Redis store passes')
  t.equal(evaluate(report([db(850)])).passed, false, '0.85 fails')
  t.equal(evaluate(report([sc('login', load(6.9), load(7))])).passed, true, '6.9/s >= 0.85 x 8/s')
  t.equal(evaluate(report([sc('login', load(6.7), load(7))])).passed, false, '6.7/s < 0.85 x 8/s')
  const mixed = (p99: number) => ({
    name: 'mixed' as const,
    service: { refresh: load(3000, { p99 }), login: load(5) },
    baseline: { refresh: load(3000), login: load(5) },
    loadAverage: 0,
    otherCpu: 0
  })
  t.equal(evaluate(report([mixed(49)])).passed, true, 'mixed refresh p99 49 ms passes')
  t.equal(evaluate(report([mixed(50)])).passed, false, 'p99 50 ms fails')
})
