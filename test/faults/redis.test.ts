// Redis failing under the service, on a redis-server of this test's own (never the shared one):
// killed and restarted (AOF) under refresh load, frozen (SIGSTOP), and down at boot. The
// service answers 503 within DEPENDENCY_TIMEOUT while Redis is away, never a 500 or a hang, and
// carries on by itself when it returns; every refresh chain survives.
import { Redis } from 'ioredis'
import t from 'tap'
import { build, claims, get, login, post, register } from '../helper.js'
import { refreshLoad, type Chain } from '../support/refresh-load.js'
import { onceBack, startRedis } from '../support/servers.js'

const TIMEOUT_MS = 500
/** What "answered within the timeout" allows for scheduling on a busy 2-core machine. */
const SLACK_MS = 400
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('Redis killed and restarted (AOF) under refresh load: 503s while it is away, every chain continues', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.destroy())
  const { app } = await build(t, 'postgres', { REDIS_URL: redis.url, DEPENDENCY_TIMEOUT: String(TIMEOUT_MS / 1000) })
  const user = await register(app)
  const chains: Chain[] = []
  for (let i = 0; i < 8; i++) chains.push({ ...(await login(app, user.username)), ok: 0, okAfter: 0 })

  const load = refreshLoad(app, chains)
  await sleep(500)
  await redis.kill()
  await sleep(1_500)
  await redis.start()
  load.after()
  await load.settle(3, 10_000)

  t.comment(`statuses: ${JSON.stringify(Object.fromEntries(load.statuses))}`)
  t.same(load.unexpected, [], 'only 200 and 503 (with Retry-After: 5)')
  t.ok((load.statuses.get(503) ?? 0) > 0, 'the outage was seen')
  t.same(load.unavailable.filter((ms) => ms > TIMEOUT_MS + SLACK_MS), [], `every 503 within ${TIMEOUT_MS} ms (+ ${SLACK_MS} ms of scheduling)`)
  for (const [i, c] of chains.entries()) t.ok(c.okAfter >= 3, `chain ${i} continued after the restart (${c.ok} rotations in all)`)
  // Every token handed out was stored: the newest of each chain is current, its access token live.
  for (const c of chains) {
    t.equal((await post(app, '/api/token/verify/', { token: c.refresh })).statusCode, 200)
    t.equal((await get(app, '/api/protected-endpoint/', c.access)).statusCode, 200)
  }
  t.equal((await get(app, '/health/ready')).statusCode, 200, 'ready again')
})

t.test('a frozen Redis (SIGSTOP), rate limits on: 503 within the timeout, not a hang; fine again once thawed', async (t) => {
  const redis = await startRedis()
  t.teardown(async () => {
    redis.thaw()
    await redis.destroy()
  })
  // The rate-limit counters live on the same Redis: they must not add their own wait.
  const { app } = await build(t, 'postgres', { REDIS_URL: redis.url, DEPENDENCY_TIMEOUT: String(TIMEOUT_MS / 1000), RATE_LIMIT_ENABLED: 'true' })
  const user = await register(app)
  redis.freeze()
  for (const [what, call] of [
    ['refresh', () => post(app, '/api/token/refresh/', { refresh: user.refresh })],
    ['protected', () => get(app, '/api/protected-endpoint/', user.access)],
    ['login', () => post(app, '/api/auth/login/', { username: user.username, password: user.password })]
  ] as const) {
    const started = Date.now()
    const res = await call()
    const took = Date.now() - started
    t.equal(res.statusCode, 503, what)
    t.same(res.json(), { detail: 'Service temporarily unavailable.' })
    t.ok(took < TIMEOUT_MS + SLACK_MS, `${what} answered in ${took} ms`)
  }
  const ready = await get(app, '/health/ready')
  t.equal(ready.statusCode, 503)
  t.match(ready.json(), { token_store: 'unavailable', database: 'ok' })
  redis.thaw()
  const res = await onceBack(() => post(app, '/api/token/refresh/', { refresh: user.refresh }))
  t.equal(res.statusCode, 200, 'the same refresh token works once Redis answers (a rotation applied late is within the grace interval)')
})

t.test('Redis down at boot: the service starts, not ready, and recovers by itself', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.destroy())
  await redis.kill()
  const started = Date.now()
  const { app } = await build(t, 'postgres', { REDIS_URL: redis.url, DEPENDENCY_TIMEOUT: String(TIMEOUT_MS / 1000) })
  t.ok(Date.now() - started < 10_000, 'it started')
  t.equal((await get(app, '/health/live')).statusCode, 200)
  t.match((await get(app, '/health/ready')).json(), { status: 'unavailable', token_store: 'unavailable', database: 'ok' })
  const reg = await post(app, '/api/auth/register/', { username: 'bootless', email: 'bootless@example.com', password: 'Str0ng-Passphrase!' })
  t.equal(reg.statusCode, 503, 'register needs the token store')
  t.equal(await app.users.findByLogin('bootless'), null, 'and left no user behind')

  await redis.start()
  const ready = await onceBack(() => get(app, '/health/ready'))
  t.equal(ready.statusCode, 200, 'ready once Redis is up')
  const user = await register(app)
  t.equal(claims(user.access).user_id, user.id)
  t.equal((await post(app, '/api/token/refresh/', { refresh: user.refresh })).statusCode, 200)
})

t.test('a Redis refusing writes (OOM under noeviction): refresh 503, reads still served, fine once memory is freed', async (t) => {
  const redis = await startRedis(['--maxmemory', '4mb', '--maxmemory-policy', 'noeviction'])
  t.teardown(() => redis.destroy())
  const { app } = await build(t, 'postgres', { REDIS_URL: redis.url, DEPENDENCY_TIMEOUT: String(TIMEOUT_MS / 1000) })
  const user = await register(app)
  // Fill it past maxmemory with keys of this test's own (outside the app's prefix).
  const filler = new Redis(redis.url)
  t.teardown(() => filler.quit())
  const fillers: string[] = []
  for (let i = 0; i < 64; i++) {
    const ok = await filler.setrange(`filler:${i}`, 100_000, 'x').then(() => true, () => false)
    if (!ok) break
    fillers.push(`filler:${i}`)
  }
  t.ok(fillers.length > 0 && fillers.length < 64, `Redis refused a write after ${fillers.length} fillers`)
  const [res, took] = await (async () => {
    const started = Date.now()
    const r = await post(app, '/api/token/refresh/', { refresh: user.refresh })
    return [r, Date.now() - started] as const
  })()
  t.equal(res.statusCode, 503, 'a rotation is a write: refused')
  t.ok(took < TIMEOUT_MS, `at once (${took} ms)`)
  t.equal((await get(app, '/api/protected-endpoint/', user.access)).statusCode, 200, 'the session check is a read: served')
  await filler.del(...fillers)
  t.equal((await post(app, '/api/token/refresh/', { refresh: user.refresh })).statusCode, 200, 'the same token rotates once memory is back')
})
