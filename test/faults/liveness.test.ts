// The liveness cache when its invalidation channel fails, on servers and connections of the
// test's own: the subscribing Redis connections killed (CLIENT KILL), the test's own Redis
// restarted or frozen (SIGSTOP), the database's listening connections terminated. Each time the
// cache is emptied and bypassed at once, no session revoked meanwhile is ever answered "alive",
// and the cache is used again once its channel is confirmed.
import { Redis } from 'ioredis'
import pg from 'pg'
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, claims, login, register } from '../helper.js'
import { confirmed, liveness, overHttp, type Http } from '../support/liveness.js'
import { startRedis, until } from '../support/servers.js'

const FAST = { LIVENESS_CACHE_HEARTBEAT: '0.2', DEPENDENCY_TIMEOUT: '0.5' }
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Sessions of one user, each cached as alive on B (the second look is a hit). */
async function cachedSessions (A: FastifyInstance, B: Http, count: number) {
  const user = await register(A)
  const sessions = []
  for (let i = 0; i < count; i++) {
    const s = await login(A, user.username)
    for (let k = 0; k < 2; k++) if ((await B('GET', '/api/auth/me/', { access: s.access })).status !== 200) throw new Error('not alive on B')
    sessions.push(s)
  }
  return sessions
}

/** The cache answers again: a new session's second look on B is a hit. */
async function usedAgain (t: Test, A: FastifyInstance, B: Http, appB: FastifyInstance) {
  await confirmed(appB)
  const before = (await liveness(appB)).hit
  await cachedSessions(A, B, 1)
  t.ok((await liveness(appB)).hit > before, 'the cache is used again once its channel is confirmed')
}

t.test('Redis: the subscribing connections killed (CLIENT KILL TYPE pubsub)', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.destroy())
  const admin = new Redis(redis.url)
  t.teardown(() => admin.quit())
  const { app: appA, twin } = await build(t, 'postgres', { REDIS_URL: redis.url, ...FAST })
  const appB = await twin()
  const B = await overHttp(appB)
  await Promise.all([confirmed(appA), confirmed(appB)])
  for (let round = 0; round < 5; round++) {
    const sessions = await cachedSessions(appA, B, 10)
    const flushes = (await liveness(appB)).flushes
    t.equal(await admin.client('KILL', 'TYPE', 'pubsub'), 2, 'both instances lost their channel')
    // Revoked while B's channel is down: B never hears of these.
    for (const s of sessions.slice(0, 5)) t.equal((await appA.inject({ method: 'POST', url: '/api/auth/logout/', headers: { authorization: `Bearer ${s.access}` }, payload: { refresh: s.refresh } })).statusCode, 200)
    for (const s of sessions.slice(0, 5)) t.equal((await B('GET', '/api/auth/me/', { access: s.access })).status, 401, 'revoked during the outage: refused')
    t.ok((await liveness(appB)).flushes > flushes, 'the cache was emptied')
    await confirmed(appB)
    for (const s of sessions.slice(0, 5)) t.equal((await B('GET', '/api/auth/me/', { access: s.access })).status, 401, 'and still refused once the channel is back')
    for (const s of sessions.slice(5)) t.equal((await B('GET', '/api/auth/me/', { access: s.access })).status, 200, 'the others are alive')
  }
  await usedAgain(t, appA, B, appB)
})

t.test("Redis: the test's own Redis restarted (AOF)", async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.destroy())
  const { app: appA, twin } = await build(t, 'postgres', { REDIS_URL: redis.url, ...FAST })
  const appB = await twin()
  const B = await overHttp(appB)
  await Promise.all([confirmed(appA), confirmed(appB)])
  const sessions = await cachedSessions(appA, B, 6)
  await sleep(1_100) // appendfsync everysec: the sessions are on disk
  await redis.stop()
  await until('B bypasses its cache', async () => !(await liveness(appB)).confirmed)
  t.equal((await B('GET', '/api/auth/me/', { access: sessions[0]!.access })).status, 503, 'Redis away: no answer from memory')
  await redis.start()
  await confirmed(appA)
  t.equal((await appA.inject({ method: 'POST', url: '/api/auth/logout/all/', headers: { authorization: `Bearer ${sessions[0]!.access}` } })).statusCode, 200)
  for (const s of sessions) t.equal((await B('GET', '/api/auth/me/', { access: s.access })).status, 401, 'every session of the user revoked after the restart: refused')
  await usedAgain(t, appA, B, appB)
})

t.test('Redis frozen (SIGSTOP): the channel lags, the cache is bypassed; a session revoked after the thaw is refused', async (t) => {
  const redis = await startRedis()
  t.teardown(async () => {
    redis.thaw()
    await redis.destroy()
  })
  const { app: appA, twin } = await build(t, 'postgres', { REDIS_URL: redis.url, ...FAST })
  const appB = await twin()
  const B = await overHttp(appB)
  await Promise.all([confirmed(appA), confirmed(appB)])
  const sessions = await cachedSessions(appA, B, 4)
  redis.freeze()
  // No canary comes back: within two heartbeats B stops answering from memory.
  await until('B bypasses its cache', async () => !(await liveness(appB)).confirmed, 5_000)
  const started = Date.now()
  t.equal((await B('GET', '/api/auth/me/', { access: sessions[0]!.access })).status, 503, 'frozen: asked the store, a 503')
  t.ok(Date.now() - started < 1_500, 'within the timeout')
  redis.thaw()
  await until('A answers again', async () => (await appA.inject({ method: 'GET', url: '/health/ready' })).statusCode === 200)
  // Each revoked from the list by the last one (which stays).
  const actor = sessions.at(-1)!
  for (const s of sessions.slice(0, -1)) {
    const sid = String(claims(s.access).sid)
    t.equal((await appA.inject({ method: 'DELETE', url: `/api/auth/sessions/${sid}/`, headers: { authorization: `Bearer ${actor.access}` } })).statusCode, 204)
    t.equal((await B('GET', '/api/auth/me/', { access: s.access })).status, 401, 'revoked after the thaw: refused')
  }
  await usedAgain(t, appA, B, appB)
})

t.test('database store: the listening connections terminated (pg_terminate_backend)', async (t) => {
  const { app: appA, twin, env } = await build(t, 'postgres', { TOKEN_STORE: 'database', ...FAST })
  const appB = await twin()
  const B = await overHttp(appB)
  await Promise.all([confirmed(appA), confirmed(appB)])
  const admin = new pg.Client({ connectionString: env.DATABASE_URL })
  await admin.connect()
  t.teardown(() => admin.end())
  const database = new URL(env.DATABASE_URL!).pathname.slice(1)
  for (let round = 0; round < 3; round++) {
    const sessions = await cachedSessions(appA, B, 6)
    const flushes = (await liveness(appB)).flushes
    const killed = await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()",
      [database]
    )
    t.equal(killed.rowCount, 2, "both instances' listeners terminated")
    await until('B saw it', async () => (await liveness(appB)).flushes > flushes, 5_000)
    for (const s of sessions.slice(0, 3)) t.equal((await appA.inject({ method: 'POST', url: '/api/auth/logout/', headers: { authorization: `Bearer ${s.access}` }, payload: { refresh: s.refresh } })).statusCode, 200)
    for (const s of sessions.slice(0, 3)) t.equal((await B('GET', '/api/auth/me/', { access: s.access })).status, 401, 'revoked while B listened to nothing: refused')
    await confirmed(appB)
    for (const s of sessions.slice(0, 3)) t.equal((await B('GET', '/api/auth/me/', { access: s.access })).status, 401, 'still refused once it listens again')
    for (const s of sessions.slice(3)) t.equal((await B('GET', '/api/auth/me/', { access: s.access })).status, 200)
  }
  await usedAgain(t, appA, B, appB)
})
