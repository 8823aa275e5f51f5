// The service process failing or stopping: SIGKILL in the embedded mode (a revoked session stays
// revoked, a rotated token stays rotated, a confirmed session survives), SIGTERM under keep-alive
// load (no request reset, exit 0), SIGTERM under a request in flight (answered with Connection:
// close), a client that trickles its body (408), a Redis that would evict sessions (refused at
// start), and log lines (written in batches, never held, none lost at SIGTERM).
import { Agent, request } from 'node:http'
import { connect } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { postJson, startService } from '../support/service.js'
import { startRedis } from '../support/servers.js'

const PASSWORD = 'Str0ng-Passphrase!'

function dataDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'auth-proc-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

type Pair = { access: string; refresh: string }

/** The service on a data folder of its own, with one user registered (and how long that took). */
async function withUser (t: Test, name: string, env: Record<string, string>) {
  const proc = startService({ DATA_DIR: dataDir(t), PORT: '0', LOG_LEVEL: 'warn', ...env })
  t.teardown(() => proc.child.kill('SIGKILL'))
  const base = await proc.listening()
  const username = `${name}_${process.pid}`
  const started = Date.now()
  const reg = await postJson(base, '/api/auth/register/', { username, email: `${username}@example.com`, password: PASSWORD })
  t.equal(reg.status, 201, 'registered')
  const { access, refresh } = (reg.json as { tokens: Pair }).tokens
  return { proc, base, username, access, refresh, registerMs: Date.now() - started }
}

t.test('embedded mode SIGKILLed: what was answered stays as it was answered', async (t) => {
  const env = { DATA_DIR: dataDir(t), PORT: '0', BCRYPT_COST: '4', LOG_LEVEL: 'warn' }
  const first = startService(env)
  t.teardown(() => first.child.kill('SIGKILL'))
  const base = await first.listening()
  const username = `crash_${process.pid}`
  const reg = await postJson(base, '/api/auth/register/', { username, email: `${username}@example.com`, password: PASSWORD })
  t.equal(reg.status, 201)
  const login = async () => (await postJson(base, '/api/auth/login/', { username, password: PASSWORD })).json as unknown as Pair
  const loggedOut = await login()
  const rotated = await login()
  const confirmed = await login()
  t.equal((await postJson(base, '/api/auth/logout/', { refresh: loggedOut.refresh }, loggedOut.access)).status, 200)
  const next = await postJson(base, '/api/token/refresh/', { refresh: rotated.refresh })
  t.equal(next.status, 200)
  const newest = next.json as unknown as Pair

  first.child.kill('SIGKILL')
  t.equal(await first.exited, null, 'killed, no clean close')

  const second = startService(env)
  t.teardown(() => second.child.kill('SIGKILL'))
  const base2 = await second.listening()
  const refresh = (token: string) => postJson(base2, '/api/token/refresh/', { refresh: token })
  const me = (access: string) => fetch(`${base2}/api/auth/me/`, { headers: { authorization: `Bearer ${access}` } }).then((r) => r.status)

  t.equal(await me(loggedOut.access), 401, 'the logged-out session stays dead (access)')
  t.match(await refresh(loggedOut.refresh), { status: 401, json: { detail: 'Token is blacklisted' } }, '(refresh)')
  t.equal(await me(confirmed.access), 200, 'the confirmed session survives')
  t.equal((await refresh(confirmed.refresh)).status, 200)
  t.equal((await refresh(newest.refresh)).status, 200, 'the rotation survives: the newest token is current')
  t.match(await refresh(rotated.refresh), { status: 401, json: { detail: 'Token is blacklisted' } }, 'the rotated-away token stays rotated')
  second.child.kill('SIGTERM')
  t.equal(await second.exited, 0)
})

t.test('log lines are written in batches but never held: an idle line within the flush interval, a burst whole at SIGTERM', async (t) => {
  const { proc, base, refresh: first } = await withUser(t, 'logs', { BCRYPT_COST: '4' })
  const audited = () => proc.output().match(/"audit: refresh rotated"/g)?.length ?? 0
  const rotate = async (token: string) => ((await postJson(base, '/api/token/refresh/', { refresh: token })).json as Pair).refresh
  let token = await rotate(first)
  // Far less than 4 KB waits: the periodic flush (100 ms) writes it; 2 s allows for a busy machine.
  const deadline = Date.now() + 2_000
  while (audited() < 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(audited(), 1, 'the one audit line of an idle service is written without waiting for more')
  for (let i = 0; i < 50; i++) token = await rotate(token)
  proc.child.kill('SIGTERM')
  t.equal(await proc.exited, 0)
  t.equal(audited(), 51, 'every line of the burst written by the time the process exits')
})

t.test('SIGTERM under keep-alive load: every request that reached the service is answered, exit 0', async (t) => {
  const { proc, base, access } = await withUser(t, 'drain', { BCRYPT_COST: '4', SHUTDOWN_TIMEOUT: '5' })
  const url = new URL('/api/protected-endpoint/', base)
  const agent = new Agent({ keepAlive: true, maxSockets: 16 })
  t.teardown(() => agent.destroy())

  const outcomes = new Map<string, number>()
  const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1)
  const once = () =>
    new Promise<string>((resolve) => {
      const req = request(url, { agent, headers: { authorization: `Bearer ${access}` } }, (res) => {
        res.resume()
        res.on('end', () => resolve(String(res.statusCode)))
        res.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
      })
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
      req.end()
    })
  let signalled = 0
  const worker = async () => {
    for (;;) {
      const outcome = await once()
      count(outcome)
      // Once the listener is gone a new connection is refused: that request never reached it.
      if (outcome === 'ECONNREFUSED') return
      if (outcome !== '200') return
    }
  }
  const load = Promise.all(Array.from({ length: 16 }, worker))
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  signalled = Date.now()
  proc.child.kill('SIGTERM')
  const code = await proc.exited
  const took = Date.now() - signalled
  await load
  t.comment(`outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}; exited ${took} ms after SIGTERM`)
  t.equal(code, 0, 'exit 0')
  t.ok(took < 5_000, 'within SHUTDOWN_TIMEOUT')
  t.ok((outcomes.get('200') ?? 0) > 100, 'the load ran')
  const resets = [...outcomes.keys()].filter((k) => k !== '200' && k !== 'ECONNREFUSED')
  t.same(resets, [], 'no request reset, no error answer: only 200s, then refused connections')
})

t.test('SIGTERM with a request in flight: it is answered, with Connection: close, and the process exits 0', async (t) => {
  // A login at a high bcrypt cost stays in flight long enough to send the signal under it.
  const { proc, base, username, registerMs: hashMs } = await withUser(t, 'inflight', { BCRYPT_COST: '12', SHUTDOWN_TIMEOUT: '10' })
  // Keep-alive, as a balancer's or a client's pool: without Connection: close the client would
  // send its next request into a socket that is about to close.
  const agent = new Agent({ keepAlive: true })
  t.teardown(() => agent.destroy())
  const body = JSON.stringify({ username, password: PASSWORD })
  const answer = new Promise<{ status?: number; connection?: string; body: string }>((resolve, reject) => {
    const req = request(new URL('/api/auth/login/', base), { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = ''
      res.on('data', (d) => (text += d))
      res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection, body: text }))
    })
    req.on('error', reject)
    req.end(body)
  })
  await new Promise((resolve) => setTimeout(resolve, Math.max(200, hashMs / 3)))
  proc.child.kill('SIGTERM')
  const res = await answer
  t.comment(`bcrypt at cost 12 took about ${hashMs} ms`)
  t.equal(res.status, 200, 'the login in flight is answered')
  t.ok((JSON.parse(res.body) as { access?: string }).access, 'with its tokens')
  t.equal(res.connection, 'close', 'with Connection: close')
  t.equal(await proc.exited, 0, 'exit 0')
})

t.test('REQUEST_TIMEOUT: a body that trickles in is cut off with 408', async (t) => {
  const env = { DATA_DIR: dataDir(t), PORT: '0', LOG_LEVEL: 'warn', REQUEST_TIMEOUT: '1' }
  const proc = startService(env)
  t.teardown(() => proc.child.kill('SIGKILL'))
  const { hostname, port } = new URL(await proc.listening())
  const started = Date.now()
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write('POST /api/auth/login/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"use')
    })
    let got = ''
    socket.on('data', (d) => (got += d))
    socket.on('close', () => resolve(got))
    socket.on('error', reject)
    setTimeout(() => socket.destroy(), 10_000).unref()
  })
  const took = Date.now() - started
  t.match(answer, /^HTTP\/1\.1 408 /, 'a 408')
  t.match(JSON.parse(answer.split('\r\n\r\n')[1] ?? '{}'), { detail: /^Request timeout/ }, "in the API's error shape")
  t.ok(took >= 900 && took < 3_000, `after about REQUEST_TIMEOUT (${took} ms), and the socket closed`)
  proc.child.kill('SIGTERM')
  t.equal(await proc.exited, 0)
})

t.test('a Redis that may evict keys stops the process at start, saying why', async (t) => {
  const redis = await startRedis(['--maxmemory-policy', 'allkeys-lru'])
  t.teardown(() => redis.destroy())
  const proc = startService({
    DATA_DIR: dataDir(t),
    PORT: '0',
    REDIS_URL: redis.url,
    JWT_SECRET: 'test-secret-that-is-at-least-32-bytes-long!!',
    LOG_LEVEL: 'warn'
  })
  t.equal(await proc.exited, 1)
  t.match(proc.output(), /Could not start: Redis maxmemory-policy is "allkeys-lru".*noeviction/)
})
