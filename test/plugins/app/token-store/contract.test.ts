// One contract suite, run against every store: Redis (real Redis, a key prefix of this run's own)
// and the database store on PostgreSQL and on PGlite (a database of this run's own); then what
// each store does beyond the contract (Redis TTLs, key contents and memory; database rows and
// their deletion), the store's own clock, and two clients racing on one token.
import { randomBytes, randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { DatabaseTokenStore, packUserId, RedisTokenStore, sessionKey, userKey } from '../../../../plugins/app/token-store/index.js'
import type { RotateResult, TokenStore, TokenStoreOptions } from '../../../../plugins/app/token-store/index.js'
import { createTestPrisma, type DatabaseKind } from '../../../support/db.js'
import { keysUnder, testRedis } from '../../../support/redis.js'

const DEFAULTS: TokenStoreOptions = { accessTtl: 300, refreshTtl: 86400, sessionMaxAge: 2592000, reuseInterval: 10 }
const newId = () => randomBytes(16).toString('base64url')

interface Harness {
  make(options?: Partial<TokenStoreOptions>): TokenStore
}

/** A fresh session with its own sid, user and first jti, created at `now`. */
async function start(store: TokenStore, now: number, userId: string = randomUUID()) {
  // Ids as the app makes them: 16 random bytes in base64url (user ids are UUIDs).
  const sid = newId()
  const jti = newId()
  const first = await store.createSession({ sid, userId, jti, now })
  return { sid, userId, jti, first }
}

function contract(t: Test, h: Harness) {
  t.test('a new session: its first token is current, iat/exp from now', async (t) => {
    const store = h.make()
    const now = Date.now()
    const { sid, jti, first } = await start(store, now)
    const iat = Math.floor(now / 1000)
    t.same(first, { jti, iat, exp: iat + DEFAULTS.refreshTtl })
    t.equal(await store.refreshStatus(sid, jti), 'current')
    t.equal(await store.refreshStatus(sid, newId()), 'blacklisted', 'another jti of a known session')
    t.equal(await store.refreshStatus(newId(), jti), 'unknown')
    t.equal(await store.isSessionActive(sid), true)
    t.equal(await store.isSessionActive(newId()), false)
  })

  t.test('rotation makes the new token current and blacklists the old one', async (t) => {
    const store = h.make()
    const now = Date.now()
    const { sid, userId, jti } = await start(store, now)
    const newJti = newId()
    const later = now + 60_000
    const r = await store.rotate({ sid, userId, jti, newJti, now: later })
    const iat = Math.floor(later / 1000)
    t.same(r, { status: 'rotated', refresh: { jti: newJti, iat, exp: iat + DEFAULTS.refreshTtl } })
    t.equal(await store.refreshStatus(sid, jti), 'blacklisted')
    t.equal(await store.refreshStatus(sid, newJti), 'current')
    t.equal(await store.isSessionActive(sid), true)
  })

  t.test('the old token again within the interval: grace, the same current token', async (t) => {
    const store = h.make()
    const now = Date.now()
    const { sid, userId, jti } = await start(store, now)
    const rotated = await store.rotate({ sid, userId, jti, newJti: newId(), now })
    t.equal(rotated.status, 'rotated')
    const again = await store.rotate({ sid, userId, jti, newJti: newId(), now: now + 9_999 })
    t.same(again, { status: 'grace', refresh: (rotated as { refresh: unknown }).refresh })
    // A grace answer creates no branch: the first new token is still the only current one.
    t.equal(await store.refreshStatus(sid, (rotated as { refresh: { jti: string } }).refresh.jti), 'current')
    t.equal(await store.refreshStatus(sid, jti), 'blacklisted')
  })

  t.test('20 concurrent rotations of one token: one rotated, 19 grace, one chain', async (t) => {
    const store = h.make()
    const now = Date.now()
    const { sid, userId, jti } = await start(store, now)
    const results = await Promise.all(
      Array.from({ length: 20 }, () => store.rotate({ sid, userId, jti, newJti: newId(), now: Date.now() }))
    )
    const rotated = results.filter((r) => r.status === 'rotated')
    const grace = results.filter((r) => r.status === 'grace')
    t.equal(rotated.length, 1)
    t.equal(grace.length, 19)
    const current = (rotated[0] as Extract<RotateResult, { status: 'rotated' }>).refresh
    for (const g of grace) t.same((g as Extract<RotateResult, { status: 'grace' }>).refresh, current)
    t.equal(await store.refreshStatus(sid, current.jti), 'current')
    // The family goes on from that single new token.
    const next = await store.rotate({ sid, userId, jti: current.jti, newJti: newId(), now: Date.now() })
    t.equal(next.status, 'rotated')
    t.equal(await store.isSessionActive(sid), true)
  })

  t.test('reuse after the interval revokes the whole session', async (t) => {
    const store = h.make()
    const now = Date.now()
    const { sid, userId, jti } = await start(store, now)
    const r1 = await store.rotate({ sid, userId, jti, newJti: newId(), now })
    const current = (r1 as Extract<RotateResult, { status: 'rotated' }>).refresh.jti
    t.same(await store.rotate({ sid, userId, jti, newJti: newId(), now: now + 10_000 }), { status: 'reused' })
    t.equal(await store.isSessionActive(sid), false)
    t.same(await store.rotate({ sid, userId, jti: current, newJti: newId(), now: now + 10_001 }), { status: 'revoked' })
    t.same(await store.rotate({ sid, userId, jti, newJti: newId(), now: now + 10_002 }), { status: 'revoked' })
    t.equal(await store.refreshStatus(sid, current), 'blacklisted')
    t.equal(await store.refreshStatus(sid, jti), 'blacklisted')
    t.equal(await store.revokeSession(sid), false, 'nothing left to revoke')
  })

  t.test('a token older than the previous one is reuse even within the interval', async (t) => {
    const store = h.make()
    const now = Date.now()
    const { sid, userId, jti: j0 } = await start(store, now)
    const j1 = newId()
    const j2 = newId()
    t.equal((await store.rotate({ sid, userId, jti: j0, newJti: j1, now })).status, 'rotated')
    t.equal((await store.rotate({ sid, userId, jti: j1, newJti: j2, now: now + 1000 })).status, 'rotated')
    t.same(await store.rotate({ sid, userId, jti: j0, newJti: newId(), now: now + 2000 }), { status: 'reused' })
    t.equal(await store.isSessionActive(sid), false)
    t.equal(await store.refreshStatus(sid, j2), 'blacklisted')
  })

  t.test('a jti never issued for the session is reuse', async (t) => {
    const store = h.make()
    const now = Date.now()
    const { sid, userId } = await start(store, now)
    t.same(await store.rotate({ sid, userId, jti: newId(), newJti: newId(), now }), { status: 'reused' })
    t.equal(await store.isSessionActive(sid), false)
  })

  t.test('grace interval 0: any replay is reuse', async (t) => {
    const store = h.make({ reuseInterval: 0 })
    const now = Date.now()
    const { sid, userId, jti } = await start(store, now)
    t.equal((await store.rotate({ sid, userId, jti, newJti: newId(), now })).status, 'rotated')
    t.same(await store.rotate({ sid, userId, jti, newJti: newId(), now }), { status: 'reused' })
  })

  t.test('another user id: unknown, and the session is left alone', async (t) => {
    const store = h.make()
    const now = Date.now()
    const { sid, jti } = await start(store, now)
    t.same(await store.rotate({ sid, userId: randomUUID(), jti, newJti: newId(), now }), { status: 'unknown' })
    t.same(await store.rotate({ sid, userId: randomUUID(), jti: newId(), newJti: newId(), now }), { status: 'unknown' })
    t.equal(await store.isSessionActive(sid), true)
    t.equal(await store.refreshStatus(sid, jti), 'current')
  })

  t.test('an unknown session is unknown', async (t) => {
    const store = h.make()
    t.same(await store.rotate({ sid: newId(), userId: randomUUID(), jti: newId(), newJti: newId(), now: Date.now() }), {
      status: 'unknown'
    })
    t.equal(await store.revokeSession(newId()), false)
    t.equal(await store.revokeUserSessions(randomUUID()), 0)
  })

  t.test('session max age caps exp; after it nothing rotates', async (t) => {
    const store = h.make({ refreshTtl: 40, sessionMaxAge: 60, accessTtl: 5 })
    const now = Date.now()
    const { sid, userId, jti, first } = await start(store, now)
    const start0 = Math.floor(now / 1000)
    t.equal(first.exp, start0 + 40)
    const j1 = newId()
    const r = await store.rotate({ sid, userId, jti, newJti: j1, now: now + 30_000 })
    t.same(r, { status: 'rotated', refresh: { jti: j1, iat: Math.floor((now + 30_000) / 1000), exp: start0 + 60 } })
    t.same(await store.rotate({ sid, userId, jti: j1, newJti: newId(), now: (start0 + 60) * 1000 }), { status: 'unknown' })

    // A max age shorter than the refresh lifetime caps the very first token.
    const short = h.make({ refreshTtl: 86400, sessionMaxAge: 100 })
    const s2 = await start(short, now)
    t.equal(s2.first.exp, start0 + 100)
  })

  t.test('an expired current token does not rotate', async (t) => {
    const store = h.make({ refreshTtl: 40 })
    const now = Date.now()
    const { sid, userId, jti, first } = await start(store, now)
    t.same(await store.rotate({ sid, userId, jti, newJti: newId(), now: first.exp * 1000 }), { status: 'unknown' })
    t.equal(await store.isSessionActive(sid), true, 'not reuse: nothing is revoked')
  })

  t.test('records expire with their tokens', async (t) => {
    const store = h.make({ accessTtl: 5, refreshTtl: 40 })
    // Created long enough ago that both the refresh token and the last access token have expired.
    const { sid, jti } = await start(store, Date.now() - 60_000)
    t.equal(await store.isSessionActive(sid), false)
    t.equal(await store.refreshStatus(sid, jti), 'unknown')
    t.equal(await store.revokeSession(sid), false)
  })

  t.test('a session lives as long as its last access token', async (t) => {
    const store = h.make({ accessTtl: 300, refreshTtl: 40 })
    // Started 100 s ago: the refresh token has expired, its access token (5 minutes) has not.
    const a = await start(store, Date.now() - 100_000)
    t.equal(await store.refreshStatus(a.sid, a.jti), 'unknown', 'the refresh token has expired')
    t.equal(await store.isSessionActive(a.sid), true, 'its access token has not')
    const b = await start(store, Date.now() - 301_000)
    t.equal(await store.isSessionActive(b.sid), false, 'both expired')
  })

  t.test('a tombstone answers "blacklisted" as long as the tokens would have lived', async (t) => {
    const store = h.make({ accessTtl: 5, refreshTtl: 40 })
    const a = await start(store, Date.now() - 30_000)
    t.equal(await store.revokeSession(a.sid), true)
    t.equal(await store.refreshStatus(a.sid, a.jti), 'blacklisted')
    const old = await start(store, Date.now() - 45_000)
    t.equal(await store.revokeSession(old.sid), false, 'an expired session is not revoked')
    t.equal(await store.refreshStatus(old.sid, old.jti), 'unknown')
  })

  t.test("the store's own clock when no time is given", async (t) => {
    const store = h.make()
    const sid = newId()
    const jti = newId()
    const userId = randomUUID()
    const first = await store.createSession({ sid, userId, jti })
    const nowS = Math.floor(Date.now() / 1000)
    t.ok(Math.abs(first.iat - nowS) <= 2, `iat ${first.iat} is the server's time (here ${nowS})`)
    t.equal(first.exp, first.iat + DEFAULTS.refreshTtl)
    const r = await store.rotate({ sid, userId, jti, newJti: newId() })
    t.equal(r.status, 'rotated')
    t.same(await store.rotate({ sid, userId, jti, newJti: newId() }), { status: 'grace', refresh: (r as { refresh: unknown }).refresh })
  })

  t.test('revokeSession: that session only, immediately', async (t) => {
    const store = h.make()
    const now = Date.now()
    const a = await start(store, now)
    const b = await start(store, now, a.userId)
    t.equal(await store.revokeSession(a.sid), true)
    t.equal(await store.revokeSession(a.sid), false, 'second time: already revoked')
    t.equal(await store.isSessionActive(a.sid), false)
    t.equal(await store.refreshStatus(a.sid, a.jti), 'blacklisted')
    t.same(await store.rotate({ sid: a.sid, userId: a.userId, jti: a.jti, newJti: newId(), now }), { status: 'revoked' })
    t.equal(await store.isSessionActive(b.sid), true)
    t.equal(await store.refreshStatus(b.sid, b.jti), 'current')
    t.equal(await store.revokeUserSessions(a.userId), 1, 'the revoked one is not counted again')
  })

  t.test("revokeUserSessions: every live session of the user, nobody else's", async (t) => {
    const store = h.make()
    const now = Date.now()
    const userId = randomUUID()
    const mine = [await start(store, now, userId), await start(store, now, userId), await start(store, now, userId)]
    const other = await start(store, now)
    // A rotated session and an already revoked one.
    t.equal((await store.rotate({ sid: mine[0]!.sid, userId, jti: mine[0]!.jti, newJti: newId(), now })).status, 'rotated')
    t.equal(await store.revokeSession(mine[2]!.sid), true)
    t.equal(await store.revokeUserSessions(userId), 2)
    for (const s of mine) {
      t.equal(await store.isSessionActive(s.sid), false)
      t.equal(await store.refreshStatus(s.sid, s.jti), 'blacklisted')
    }
    t.equal(await store.isSessionActive(other.sid), true)
    t.equal(await store.revokeUserSessions(userId), 0)
    // A new login afterwards is a fresh, live session.
    const again = await start(store, now, userId)
    t.equal(await store.isSessionActive(again.sid), true)
    t.equal(await store.revokeUserSessions(userId), 1)
  })

  t.test('user ids that are not UUIDs work the same', async (t) => {
    const store = h.make()
    const now = Date.now()
    const a = await start(store, now, 'alice')
    const b = await start(store, now, '=alice')
    t.same(await store.rotate({ sid: a.sid, userId: '=alice', jti: a.jti, newJti: newId(), now }), { status: 'unknown' })
    t.equal((await store.rotate({ sid: a.sid, userId: 'alice', jti: a.jti, newJti: newId(), now })).status, 'rotated')
    t.equal(await store.revokeUserSessions('alice'), 1)
    t.equal(await store.isSessionActive(a.sid), false)
    t.equal(await store.isSessionActive(b.sid), true)
  })

  t.test('ping', async (t) => {
    await t.resolves(h.make().ping())
  })
}

t.test('redis store', async (t) => {
  const tr = await testRedis()
  t.teardown(() => tr.cleanup())
  contract(t, { make: (options) => new RedisTokenStore(tr.redis, { ...DEFAULTS, ...options }) })
})

for (const kind of ['postgres', 'pglite'] as DatabaseKind[]) {
  t.test(`database store (${kind})`, async (t) => {
    const db = await createTestPrisma(kind)
    t.teardown(() => db.cleanup())
    contract(t, { make: (options) => new DatabaseTokenStore(db.prisma, { ...DEFAULTS, ...options }) })
  })

  t.test(`database store (${kind}): rows, tombstones, and expired rows deleted by new sessions`, async (t) => {
    const db = await createTestPrisma(kind)
    t.teardown(() => db.cleanup())
    const store = new DatabaseTokenStore(db.prisma, { ...DEFAULTS, accessTtl: 5, refreshTtl: 40 })
    const rows = () => db.prisma.session.findMany({ orderBy: { sid: 'asc' } })
    const now = Date.now()
    const nowS = Math.floor(now / 1000)
    const a = await start(store, now)
    t.match(await db.prisma.session.findUnique({ where: { sid: a.sid } }), {
      userId: a.userId,
      jti: a.jti,
      exp: BigInt(nowS + 40),
      ends: BigInt(nowS + DEFAULTS.sessionMaxAge),
      prevJti: null,
      revoked: false,
      expiresAt: BigInt((nowS + 40) * 1000)
    })
    const j1 = newId()
    t.equal((await store.rotate({ sid: a.sid, userId: a.userId, jti: a.jti, newJti: j1, now: now + 1000 })).status, 'rotated')
    t.match(await db.prisma.session.findUnique({ where: { sid: a.sid } }), { jti: j1, prevJti: a.jti, rotatedAt: BigInt(now + 1000) })
    t.equal(await store.revokeSession(a.sid), true)
    t.match(await db.prisma.session.findUnique({ where: { sid: a.sid } }), { revoked: true, jti: null, prevJti: null })

    // Expired records (sessions and tombstones): deleted a few at a time as new sessions start.
    await db.prisma.session.createMany({
      data: Array.from({ length: 6 }, (_, i) => ({
        sid: newId(),
        userId: randomUUID(),
        jti: i % 2 ? newId() : null,
        revoked: i % 2 === 0,
        exp: BigInt(nowS - 60),
        ends: BigInt(nowS),
        expiresAt: BigInt(now - 20_000)
      }))
    })
    t.equal((await rows()).length, 7, 'six expired rows (sessions and tombstones) wait for deletion')
    await start(store, now)
    t.equal((await rows()).length, 4, 'a new session deleted four of them')
    await start(store, now)
    const left = await rows()
    t.equal(left.length, 3, 'and the next the rest: only live records remain')
    t.ok(left.every((r) => r.expiresAt > BigInt(Date.now())))
  })
}

t.test('database store: two clients racing on one token rotate it once', async (t) => {
  const db = await createTestPrisma('postgres')
  t.teardown(() => db.cleanup())
  const s1 = new DatabaseTokenStore(db.prisma, DEFAULTS)
  const s2 = new DatabaseTokenStore(db.another(), DEFAULTS)
  const { sid, userId, jti } = await start(s1, Date.now())
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? s1 : s2).rotate({ sid, userId, jti, newJti: newId() })))
  t.equal(results.filter((r) => r.status === 'rotated').length, 1)
  t.equal(results.filter((r) => r.status === 'grace').length, 19)
  const jtis = new Set(results.map((r) => (r as Extract<RotateResult, { refresh: unknown }>).refresh.jti))
  t.equal(jtis.size, 1, 'every caller got the same new token')
  t.equal(await s2.refreshStatus(sid, [...jtis][0]!), 'current')
})

t.test('redis store: keys, contents and TTLs', async (t) => {
  const tr = await testRedis()
  t.teardown(() => tr.cleanup())
  const { redis, prefix } = tr
  const store = new RedisTokenStore(redis, { ...DEFAULTS, accessTtl: 300, refreshTtl: 3600 })
  const now = Date.now()
  const nowS = Math.floor(now / 1000)
  const userId = randomUUID()
  const a = await start(store, now, userId)
  const b = await start(store, now, userId)

  t.same(await redis.hgetall(sessionKey(a.sid)), {
    u: packUserId(userId),
    j: a.jti,
    e: String(nowS + 3600),
    m: String(nowS + DEFAULTS.sessionMaxAge)
  })
  t.equal(await redis.pexpiretime(sessionKey(a.sid)), (nowS + 3600) * 1000, 'the session ends with its refresh token')
  t.equal(Number(await redis.zscore(userKey(userId), a.sid)), (nowS + 3600) * 1000)

  const j1 = newId()
  const later = now + 5_000
  t.equal((await store.rotate({ sid: a.sid, userId, jti: a.jti, newJti: j1, now: later })).status, 'rotated')
  const laterS = Math.floor(later / 1000)
  t.same(await redis.hgetall(sessionKey(a.sid)), {
    u: packUserId(userId),
    j: j1,
    e: String(laterS + 3600),
    m: String(nowS + DEFAULTS.sessionMaxAge),
    p: a.jti,
    r: String(later)
  })
  t.equal(await redis.pexpiretime(sessionKey(a.sid)), (laterS + 3600) * 1000)
  t.equal(Number(await redis.zscore(userKey(userId), a.sid)), (laterS + 3600) * 1000, 'the index follows the rotation')
  t.ok((await redis.pexpiretime(userKey(userId))) >= (laterS + 3600) * 1000, 'the index outlives its members')

  // Revocation leaves a tombstone with the session's own expiry and drops it from the index.
  const before = await redis.pexpiretime(sessionKey(b.sid))
  t.equal(await store.revokeSession(b.sid), true)
  t.same(await redis.hgetall(sessionKey(b.sid)), { x: '1' })
  t.equal(await redis.pexpiretime(sessionKey(b.sid)), before, 'the tombstone expires with the tokens')
  t.same(await redis.zrange(userKey(userId), 0, -1), [a.sid])

  // Reuse: tombstone, index entry gone.
  t.same(await store.rotate({ sid: a.sid, userId, jti: a.jti, newJti: newId(), now: later + 60_000 }), { status: 'reused' })
  t.same(await redis.hgetall(sessionKey(a.sid)), { x: '1' })
  t.ok((await redis.pexpiretime(sessionKey(a.sid))) > 0)
  t.equal(await redis.exists(userKey(userId)), 0, 'an empty index is gone')

  // A session whose refresh token outlives nothing: the record lasts as long as the last access token.
  const shortStore = new RedisTokenStore(redis, { ...DEFAULTS, accessTtl: 300, refreshTtl: 60 })
  const c = await start(shortStore, now)
  t.equal(await redis.pexpiretime(sessionKey(c.sid)), now + 300_000)

  // Every key this store wrote has a TTL.
  const keys = await keysUnder(redis, prefix)
  t.ok(keys.length >= 3)
  for (const k of keys) t.ok((await redis.pttl(k)) > 0, `${k} has a TTL`)
})

t.test('redis store: two clients racing on one token rotate it once', async (t) => {
  const one = await testRedis()
  const two = await testRedis(one.prefix)
  t.teardown(async () => {
    await two.redis.quit()
    await one.cleanup()
  })
  const s1 = new RedisTokenStore(one.redis, DEFAULTS)
  const s2 = new RedisTokenStore(two.redis, DEFAULTS)
  const now = Date.now()
  const { sid, userId, jti } = await start(s1, now)
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => (i % 2 ? s1 : s2).rotate({ sid, userId, jti, newJti: newId(), now: Date.now() }))
  )
  t.equal(results.filter((r) => r.status === 'rotated').length, 1)
  t.equal(results.filter((r) => r.status === 'grace').length, 19)
  const jtis = new Set(results.map((r) => (r as Extract<RotateResult, { refresh: unknown }>).refresh.jti))
  t.equal(jtis.size, 1, 'every caller got the same new token')
  t.equal(await s2.refreshStatus(sid, [...jtis][0]!), 'current')
})

t.test('redis store: memory per live session', async (t) => {
  const tr = await testRedis()
  t.teardown(() => tr.cleanup())
  const { redis, prefix } = tr
  const store = new RedisTokenStore(redis, DEFAULTS)
  const N = 1000
  const now = Date.now()
  // Worst case for the index: one user per session. Each session rotated once (every field set).
  const sessions = []
  for (let i = 0; i < N; i++) sessions.push(await start(store, now))
  await Promise.all(sessions.map((s) => store.rotate({ sid: s.sid, userId: s.userId, jti: s.jti, newJti: newId(), now })))
  const keys = await keysUnder(redis, prefix)
  t.equal(keys.length, 2 * N)
  let bytes = 0
  for (const k of keys) {
    // ioredis does not prefix MEMORY's key argument.
    const usage = Number(await redis.memory('USAGE', prefix + k))
    if (!(usage > 0)) t.fail(`no MEMORY USAGE for ${k}`)
    bytes += usage
  }
  const perSession = bytes / N
  t.comment(`Redis MEMORY USAGE: ${perSession.toFixed(0)} bytes per live session (session hash + user index, ${N} sessions)`)
  t.ok(perSession < 400, `under 400 bytes per session (${perSession.toFixed(0)})`)
})
