// One contract suite, run against every store: Redis (real Redis, a key prefix of this run's own)
// and the database store on PostgreSQL and on PGlite (a database of this run's own); then what
// each store does beyond the contract (Redis TTLs, key contents and memory; database rows and
// their deletion), the store's own clock, and two clients racing on one token.
import { randomBytes, randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { DatabaseTokenStore, DEVICE_LIMIT, DEVICE_WINDOW_MS, writerOf, packJti, packUserId, pieces, RedisTokenStore, sessionKey, sessionsOf, userKey } from '../../../../plugins/app/token-store/index.js'
import { closeClient, duplicateClient, type RedisClient } from '../../../../plugins/external/redis.js'
import type { RotateResult, TokenStore, TokenStoreOptions } from '../../../../plugins/app/token-store/index.js'
import { CLIENT_IP, USER_AGENT } from '../../../../bench/agent.js'
import { MEMORY_TARGET } from '../../../../bench/memory.js'
import { createTestPrisma, type DatabaseKind } from '../../../support/db.js'
import { keysUnder, testRedis, TOPOLOGIES } from '../../../support/redis.js'
import { newId } from '../../../../plugins/app/ids.js'

const DEFAULTS: TokenStoreOptions = { accessTtl: 300, refreshTtl: 86400, sessionMaxAge: 2592000, reuseInterval: 10 }
const IP = '203.0.113.7'
const AGENT = 'MyApp/2.1 (iPhone)'
/** A session nobody started. */
const nobody = () => ({ userId: randomUUID(), sid: newId() })

interface Harness {
  make(options?: Partial<TokenStoreOptions>): TokenStore
}

/** A fresh session with its own sid, user and first jti, created at `now`. */
async function start (store: TokenStore, now: number, userId: string = randomUUID()) {
  // Ids as the app makes them: 16 random bytes in base64url (user ids are UUIDs).
  const sid = newId()
  const jti = newId()
  const first = await store.createSession({ sid, userId, jti, now, ip: IP, userAgent: AGENT })
  return { sid, userId, jti, first }
}

function contract (t: Test, h: Harness) {
  t.test('a new session: its first token is current, iat/exp from now', async (t) => {
    const store = h.make()
    const now = Date.now()
    const { sid, userId, jti, first } = await start(store, now)
    const iat = Math.floor(now / 1000)
    t.same(first, { jti, iat, exp: iat + DEFAULTS.refreshTtl })
    t.equal(await store.refreshStatus({ userId, sid }, jti), 'current')
    t.equal(await store.refreshStatus({ userId, sid }, newId()), 'blacklisted', 'another jti of a known session')
    t.equal(await store.refreshStatus(nobody(), jti), 'unknown')
    t.equal(await store.isSessionActive({ userId, sid }), true)
    t.equal(await store.isSessionActive(nobody()), false)
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
    t.equal(await store.refreshStatus({ userId, sid }, jti), 'blacklisted')
    t.equal(await store.refreshStatus({ userId, sid }, newJti), 'current')
    t.equal(await store.isSessionActive({ userId, sid }), true)
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
    t.equal(await store.refreshStatus({ userId, sid }, (rotated as { refresh: { jti: string } }).refresh.jti), 'current')
    t.equal(await store.refreshStatus({ userId, sid }, jti), 'blacklisted')
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
    t.equal(await store.refreshStatus({ userId, sid }, current.jti), 'current')
    // The family goes on from that single new token.
    const next = await store.rotate({ sid, userId, jti: current.jti, newJti: newId(), now: Date.now() })
    t.equal(next.status, 'rotated')
    t.equal(await store.isSessionActive({ userId, sid }), true)
  })

  t.test('keep (ROTATE_REFRESH_TOKENS=false): the token stays current, its exp unchanged; the last use moves', async (t) => {
    const store = h.make()
    const now = Date.now()
    const { sid, userId, jti, first } = await start(store, now)
    for (const dt of [60_000, 120_000]) {
      const r = await store.rotate({ sid, userId, jti, newJti: newId(), now: now + dt, keep: true })
      t.same(r, { status: 'kept', refresh: { jti, iat: 0, exp: first.exp } }, `kept at +${dt / 1000} s`)
    }
    t.equal(await store.refreshStatus({ userId, sid }, jti), 'current', 'still the current token')
    const [listed] = await store.listSessions(userId, now + 130_000)
    t.equal(listed?.lastUsed, now + 120_000, 'the sessions list shows the last refresh')
    t.equal(listed?.expires, first.exp)
    // Past its own expiry it is refused like any expired token, and the session ends with it.
    t.equal((await store.rotate({ sid, userId, jti, newJti: newId(), now: first.exp * 1000, keep: true })).status, 'unknown')
  })

  t.test('keep: 20 concurrent refreshes of one token all keep it; a revocation wins at once', async (t) => {
    const store = h.make()
    const { sid, userId, jti } = await start(store, Date.now())
    const results = await Promise.all(Array.from({ length: 20 }, () => store.rotate({ sid, userId, jti, newJti: newId(), keep: true })))
    t.same(new Set(results.map((r) => r.status)), new Set(['kept']))
    t.equal(await store.revokeSession({ userId, sid }), true)
    t.same(await store.rotate({ sid, userId, jti, newJti: newId(), keep: true }), { status: 'revoked' })
    t.equal(await store.isSessionActive({ userId, sid }), false)
  })

  t.test('keep and rotate on one session (instances with either setting): a rotated-away token gets grace, then reuse detection', async (t) => {
    const store = h.make()
    const now = Date.now()
    const { sid, userId, jti } = await start(store, now)
    const r = await store.rotate({ sid, userId, jti, newJti: newId(), now })
    const current = (r as Extract<RotateResult, { status: 'rotated' }>).refresh
    t.same(await store.rotate({ sid, userId, jti, newJti: newId(), now: now + 1_000, keep: true }), { status: 'grace', refresh: current })
    t.same(await store.rotate({ sid, userId, jti: current.jti, newJti: newId(), now: now + 2_000, keep: true }), { status: 'kept', refresh: { ...current, iat: 0 } })
    t.same(await store.rotate({ sid, userId, jti, newJti: newId(), now: now + 60_000, keep: true }), { status: 'reused' })
    t.equal(await store.isSessionActive({ userId, sid }), false)
  })

  t.test('reuse after the interval revokes the whole session', async (t) => {
    const store = h.make()
    const now = Date.now()
    const { sid, userId, jti } = await start(store, now)
    const r1 = await store.rotate({ sid, userId, jti, newJti: newId(), now })
    const current = (r1 as Extract<RotateResult, { status: 'rotated' }>).refresh.jti
    t.same(await store.rotate({ sid, userId, jti, newJti: newId(), now: now + 10_000 }), { status: 'reused' })
    t.equal(await store.isSessionActive({ userId, sid }), false)
    t.same(await store.rotate({ sid, userId, jti: current, newJti: newId(), now: now + 10_001 }), { status: 'revoked' })
    t.same(await store.rotate({ sid, userId, jti, newJti: newId(), now: now + 10_002 }), { status: 'revoked' })
    t.equal(await store.refreshStatus({ userId, sid }, current), 'blacklisted')
    t.equal(await store.refreshStatus({ userId, sid }, jti), 'blacklisted')
    t.equal(await store.revokeSession({ userId, sid }), false, 'nothing left to revoke')
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
    t.equal(await store.isSessionActive({ userId, sid }), false)
    t.equal(await store.refreshStatus({ userId, sid }, j2), 'blacklisted')
  })

  t.test('a jti never issued for the session is reuse', async (t) => {
    const store = h.make()
    const now = Date.now()
    const { sid, userId } = await start(store, now)
    t.same(await store.rotate({ sid, userId, jti: newId(), newJti: newId(), now }), { status: 'reused' })
    t.equal(await store.isSessionActive({ userId, sid }), false)
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
    const { sid, userId, jti } = await start(store, now)
    t.same(await store.rotate({ sid, userId: randomUUID(), jti, newJti: newId(), now }), { status: 'unknown' })
    t.same(await store.rotate({ sid, userId: randomUUID(), jti: newId(), newJti: newId(), now }), { status: 'unknown' })
    t.equal(await store.isSessionActive({ userId, sid }), true)
    t.equal(await store.refreshStatus({ userId, sid }, jti), 'current')
  })

  t.test('an unknown session is unknown', async (t) => {
    const store = h.make()
    t.same(await store.rotate({ sid: newId(), userId: randomUUID(), jti: newId(), newJti: newId(), now: Date.now() }), {
      status: 'unknown'
    })
    t.equal(await store.revokeSession(nobody()), false)
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
    t.equal(await store.isSessionActive({ userId, sid }), true, 'not reuse: nothing is revoked')
  })

  t.test('records expire with their tokens', async (t) => {
    const store = h.make({ accessTtl: 5, refreshTtl: 40 })
    // Created long enough ago that both the refresh token and the last access token have expired.
    const { sid, userId, jti } = await start(store, Date.now() - 60_000)
    t.equal(await store.isSessionActive({ userId, sid }), false)
    t.equal(await store.refreshStatus({ userId, sid }, jti), 'unknown')
    t.equal(await store.revokeSession({ userId, sid }), false)
  })

  t.test('a session lives as long as its last access token', async (t) => {
    const store = h.make({ accessTtl: 300, refreshTtl: 40 })
    // Started 100 s ago: the refresh token has expired, its access token (5 minutes) has not.
    const a = await start(store, Date.now() - 100_000)
    t.equal(await store.refreshStatus(a, a.jti), 'unknown', 'the refresh token has expired')
    t.equal(await store.isSessionActive(a), true, 'its access token has not')
    const b = await start(store, Date.now() - 301_000)
    t.equal(await store.isSessionActive(b), false, 'both expired')
  })

  t.test('a tombstone answers "blacklisted" as long as the tokens would have lived', async (t) => {
    const store = h.make({ accessTtl: 5, refreshTtl: 40 })
    const a = await start(store, Date.now() - 30_000)
    t.equal(await store.revokeSession(a), true)
    t.equal(await store.refreshStatus(a, a.jti), 'blacklisted')
    const old = await start(store, Date.now() - 45_000)
    t.equal(await store.revokeSession(old), false, 'an expired session is not revoked')
    t.equal(await store.refreshStatus(old, old.jti), 'unknown')
  })

  t.test("the store's own clock when no time is given", async (t) => {
    const store = h.make()
    const sid = newId()
    const jti = newId()
    const userId = randomUUID()
    const first = await store.createSession({ sid, userId, jti, ip: IP, userAgent: AGENT })
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
    t.equal(await store.revokeSession(a), true)
    t.equal(await store.revokeSession(a), false, 'second time: already revoked')
    t.equal(await store.isSessionActive(a), false)
    t.equal(await store.refreshStatus(a, a.jti), 'blacklisted')
    t.same(await store.rotate({ sid: a.sid, userId: a.userId, jti: a.jti, newJti: newId(), now }), { status: 'revoked' })
    t.equal(await store.isSessionActive(b), true)
    t.equal(await store.refreshStatus(b, b.jti), 'current')
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
    t.equal(await store.revokeSession(mine[2]!), true)
    t.equal(await store.revokeUserSessions(userId), 2)
    for (const s of mine) {
      t.equal(await store.isSessionActive(s), false)
      t.equal(await store.refreshStatus(s, s.jti), 'blacklisted')
    }
    t.equal(await store.isSessionActive(other), true)
    t.equal(await store.revokeUserSessions(userId), 0)
    // A new login afterwards is a fresh, live session.
    const again = await start(store, now, userId)
    t.equal(await store.isSessionActive(again), true)
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
    t.equal(await store.isSessionActive(a), false)
    t.equal(await store.isSessionActive(b), true)
  })

  t.test("another user's session: unknown, not revoked, not listed", async (t) => {
    const store = h.make()
    const now = Date.now()
    const a = await start(store, now)
    const stranger = { userId: randomUUID(), sid: a.sid }
    t.equal(await store.isSessionActive(stranger), false)
    t.equal(await store.refreshStatus(stranger, a.jti), 'unknown')
    t.equal(await store.revokeSession(stranger), false)
    t.same(await store.listSessions(stranger.userId, now), [])
    t.equal(await store.isSessionActive(a), true, 'the owner is unaffected')
    t.equal(await store.refreshStatus(a, a.jti), 'current')
  })

  t.test('tickets: stored, read, taken once under concurrency, counted tries, expiry', async (t) => {
    const store = h.make()
    const key = `test:${newId()}`
    t.equal(await store.getTicket(key), null)
    t.equal(await store.takeTicket(key), null)
    t.equal(await store.failTicket(key), 0, 'no ticket: no tries left')
    await store.putTicket(key, 'value-1', 60, 3)
    t.same(await store.getTicket(key), { value: 'value-1', tries: 0 })
    t.equal(await store.failTicket(key), 2)
    t.same(await store.getTicket(key), { value: 'value-1', tries: 1 })
    t.equal(await store.failTicket(key), 1)
    t.equal(await store.failTicket(key), 0, 'the last try')
    t.equal(await store.getTicket(key), null, 'gone after its tries')
    t.equal(await store.takeTicket(key), null)
    await store.putTicket(key, 'value-2', 60, 3)
    t.same(await store.getTicket(key), { value: 'value-2', tries: 0 }, 'a new ticket under the key starts afresh')
    const takes = await Promise.all(Array.from({ length: 20 }, () => store.takeTicket(key)))
    t.same(takes.filter((v) => v !== null), ['value-2'], 'one of twenty takes it')
    t.equal(await store.getTicket(key), null)
    await store.putTicket(key, 'short', 1, 3)
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    t.equal(await store.getTicket(key), null, 'expired')
    t.equal(await store.takeTicket(key), null)
  })

  t.test('rememberDevice: new once, known within the window, the most recent kept; one of two at once is new; forgetDevices', async (t) => {
    const store = h.make()
    const userId = randomUUID()
    const now = Date.now()
    t.equal(await store.rememberDevice(userId, 'device-a', now - 1_000), false, 'new')
    t.equal(await store.rememberDevice(userId, 'device-a', now), true, 'known')
    t.equal(await store.rememberDevice(randomUUID(), 'device-a', now), false, "another user's history")
    t.equal(await store.rememberDevice(userId, 'device-a', now + DEVICE_WINDOW_MS - 1), true, 'still within the window of its last sign-in')
    t.equal(await store.rememberDevice(userId, 'device-a', now + 2 * DEVICE_WINDOW_MS), false, 'forgotten after the window')
    // The limit: DEVICE_LIMIT others signed in after device-b, which is forgotten; the newest stay.
    const later = now + 2 * DEVICE_WINDOW_MS
    t.equal(await store.rememberDevice(userId, 'device-b', later + 1), false)
    for (let i = 0; i < DEVICE_LIMIT; i++) await store.rememberDevice(userId, `device-${i}`, later + 10 + i)
    t.equal(await store.rememberDevice(userId, `device-${DEVICE_LIMIT - 1}`, later + 100), true, 'the newest are kept')
    t.equal(await store.rememberDevice(userId, 'device-b', later + 200), false, 'the oldest went past the limit')
    const racing = randomUUID()
    const both = await Promise.all(Array.from({ length: 10 }, () => store.rememberDevice(racing, 'device-new', now)))
    t.equal(both.filter((known) => !known).length, 1, 'of ten sign-ins from one new device at once, one is new')
    // forgetDevices: the user's history goes, another's stays.
    await store.forgetDevices(racing)
    t.equal(await store.rememberDevice(racing, 'device-new', now + 1), false, 'forgotten')
    t.equal(await store.rememberDevice(userId, 'device-b', later + 300), true, "another user's history stays")
  })

  t.test('listSessions: live sessions, newest first, with their login details and last use', async (t) => {
    const store = h.make({ refreshTtl: 3600 })
    const now = Date.now()
    const userId = randomUUID()
    const older = await start(store, now - 60_000, userId)
    const newer = await start(store, now - 30_000, userId)
    const revoked = await start(store, now - 10_000, userId)
    await start(store, now) // another user's
    const long = 'A'.repeat(300)
    const agent = await store.createSession({ sid: newId(), userId, jti: newId(), now: now - 45_000, ip: '2001:db8::1', userAgent: long, amr: ['pwd', 'otp', 'mfa'] })
    t.equal(await store.revokeSession(revoked), true)
    // A rotation moves the last use and the expiry; a grace answer and a listing do not.
    const j1 = newId()
    t.equal((await store.rotate({ ...older, newJti: j1, now: now - 5_000 })).status, 'rotated')
    t.equal((await store.rotate({ ...older, newJti: newId(), now: now - 4_000 })).status, 'grace')
    const list = await store.listSessions(userId, now)
    t.same(
      list.map((s) => s.sid),
      [newer.sid, list[1]!.sid, older.sid],
      'newest first by start: the revoked one and the other user\'s are not listed'
    )
    t.same(list[2], {
      sid: older.sid,
      created: now - 60_000,
      lastUsed: now - 5_000,
      expires: Math.floor((now - 5_000) / 1000) + 3600,
      ip: IP,
      userAgent: AGENT,
      amr: ['pwd']
    })
    t.same(list[0], { sid: newer.sid, created: now - 30_000, lastUsed: now - 30_000, expires: newer.first.exp, ip: IP, userAgent: AGENT, amr: ['pwd'] })
    t.same(list[1]!.amr, ['pwd', 'otp', 'mfa'], 'how the user signed in')
    t.equal(list[1]!.userAgent, 'A'.repeat(256), 'the user agent is cut to 256 characters')
    t.equal(list[1]!.ip, '2001:db8::1')
    t.equal(list[1]!.expires, agent.exp)
    t.same(await store.listSessions(userId, now), list, 'listing changes nothing')
    t.same(await store.listSessions(randomUUID(), now), [])
  })

  t.test('listSessions: an expired session is gone, one whose access token still lives is listed', async (t) => {
    const store = h.make({ accessTtl: 300, refreshTtl: 40 })
    const userId = randomUUID()
    const stale = await start(store, Date.now() - 100_000, userId)
    await start(store, Date.now() - 400_000, userId)
    t.same((await store.listSessions(userId)).map((s) => s.sid), [stale.sid], 'only the one a token of which may still work')
  })

  t.test('revokeUserSessions with an exception keeps that one session', async (t) => {
    const store = h.make()
    const now = Date.now()
    const userId = randomUUID()
    const [keep, a, b] = [await start(store, now, userId), await start(store, now, userId), await start(store, now, userId)]
    t.equal(await store.revokeUserSessions(userId, keep.sid), 2)
    t.equal(await store.isSessionActive(keep), true)
    t.equal(await store.refreshStatus(keep, keep.jti), 'current')
    for (const s of [a, b]) t.equal(await store.isSessionActive(s), false)
    t.same((await store.listSessions(userId, now)).map((s) => s.sid), [keep.sid])
    t.equal(await store.revokeUserSessions(userId, keep.sid), 0)
    t.equal(await store.revokeUserSessions(userId), 1, 'and without one, it goes too')
    t.same(await store.listSessions(userId, now), [])
  })

  t.test('ping', async (t) => {
    await t.resolves(h.make().ping())
  })
}

// On the shared single Redis, the run's 3-master Cluster, and through its Sentinel with every
// write waiting for the replica (as a Sentinel deployment runs by default).
for (const topology of TOPOLOGIES) {
  t.test(`redis store (${topology})`, async (t) => {
    const tr = await testRedis(undefined, topology)
    t.teardown(() => tr.cleanup())
    // Through Sentinel, the writes take turns over two connections of their own, as the plugin does.
    const writers = topology === 'sentinel' ? [duplicateClient(tr.redis, {}), duplicateClient(tr.redis, {})] : []
    await Promise.all(writers.map((w) => w.connect()))
    t.teardown(() => Promise.all(writers.map(closeClient)))
    const replication = topology === 'sentinel' ? { replicas: 1, timeoutMs: 500, writers } : undefined
    contract(t, { make: (options) => new RedisTokenStore(tr.redis, { ...DEFAULTS, ...options }, replication) })
  })
}

if (TOPOLOGIES.includes('sentinel')) {
  t.test('redis store (sentinel): each user\'s writes take one connection of their own, in order; reads stay on the main one', async (t) => {
    const tr = await testRedis(undefined, 'sentinel')
    t.teardown(() => tr.cleanup())
    const writers = [duplicateClient(tr.redis, {}), duplicateClient(tr.redis, {})]
    await Promise.all(writers.map((w) => w.connect()))
    t.teardown(() => Promise.all(writers.map(closeClient)))
    const used: string[][] = [[], [], []]
    let user = ''
    for (const [i, client] of [tr.redis, ...writers].entries()) {
      const pipeline = client.pipeline.bind(client)
      client.pipeline = ((...args: Parameters<typeof pipeline>) => {
        used[i]!.push(user)
        return pipeline(...args)
      }) as typeof client.pipeline
    }
    const store = new RedisTokenStore(tr.redis, DEFAULTS, { replicas: 1, timeoutMs: 500, writers })
    const users = Array.from({ length: 16 }, () => randomUUID())
    for (const userId of users) {
      user = userId
      // create, rotate, revoke: three writes of one user
      const s = await start(store, Date.now(), userId)
      t.equal((await store.rotate({ ...s, newJti: newId(), now: Date.now() })).status, 'rotated')
      t.equal(await store.revokeSession(s), true)
      t.equal(await store.isSessionActive(s), false)
    }
    t.same(used[0], [], 'no write on the main connection')
    for (const userId of users) {
      const on = [1, 2].filter((i) => used[i]!.includes(userId))
      t.equal(on.length, 1, 'every write of a user on one connection')
      t.equal(used[on[0]!]!.filter((u) => u === userId).length, 3)
      t.equal(on[0]! - 1, writerOf(userId, 2))
    }
    t.ok(used[1]!.length > 0 && used[2]!.length > 0, `the users spread over both (${used[1]!.length / 3} and ${used[2]!.length / 3})`)
    t.same([writerOf('a', 1), writerOf('a', 0)], [0, 0])
  })
}

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
    t.equal(await store.revokeSession(a), true)
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
        createdAt: BigInt(now - 100_000),
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
  t.equal(await s2.refreshStatus({ userId, sid }, [...jtis][0]!), 'current')
})

/** A session hash as strings, its jtis (stored as bytes) in base64url. */
async function stored (redis: RedisClient, key: string): Promise<Record<string, string>> {
  const raw = await redis.hgetallBuffer(key)
  return Object.fromEntries(Object.entries(raw).map(([f, v]) => [f, f === 'j' || f === 'p' ? v.toString('base64url') : v.toString()]))
}

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

  t.equal(sessionKey(a), `s:{${packUserId(userId)}}:${a.sid}`, 'the hash tag is the user')
  t.same(await stored(redis, sessionKey(a)), {
    j: a.jti,
    e: String(nowS + 3600),
    c: String(now),
    i: IP,
    m: 'pwd',
    a1: AGENT
  })
  t.equal(await redis.pexpiretime(sessionKey(a)), (nowS + 3600) * 1000, 'the session ends with its refresh token')
  t.equal(Number(await redis.zscore(userKey(userId), a.sid)), (nowS + 3600) * 1000)

  const j1 = newId()
  const later = now + 5_000
  t.equal((await store.rotate({ sid: a.sid, userId, jti: a.jti, newJti: j1, now: later })).status, 'rotated')
  const laterS = Math.floor(later / 1000)
  t.same(await stored(redis, sessionKey(a)), {
    j: j1,
    e: String(laterS + 3600),
    c: String(now),
    i: IP,
    m: 'pwd',
    a1: AGENT,
    p: a.jti,
    r: String(later)
  })
  t.equal(await redis.pexpiretime(sessionKey(a)), (laterS + 3600) * 1000)
  t.equal(Number(await redis.zscore(userKey(userId), a.sid)), (laterS + 3600) * 1000, 'the index follows the rotation')
  t.ok((await redis.pexpiretime(userKey(userId))) >= (laterS + 3600) * 1000, 'the index outlives its members')

  // Revocation leaves a tombstone with the session's own expiry and drops it from the index.
  const before = await redis.pexpiretime(sessionKey(b))
  t.equal(await store.revokeSession(b), true)
  t.same(await stored(redis, sessionKey(b)), { x: '1' })
  t.equal(await redis.pexpiretime(sessionKey(b)), before, 'the tombstone expires with the tokens')
  t.same(await redis.zrange(userKey(userId), 0, -1), [a.sid])

  // Reuse: tombstone, index entry gone.
  t.same(await store.rotate({ sid: a.sid, userId, jti: a.jti, newJti: newId(), now: later + 60_000 }), { status: 'reused' })
  t.same(await stored(redis, sessionKey(a)), { x: '1' })
  t.ok((await redis.pexpiretime(sessionKey(a))) > 0)
  t.equal(await redis.exists(userKey(userId)), 0, 'an empty index is gone')

  // A session whose refresh token outlives nothing: the record lasts as long as the last access token.
  const shortStore = new RedisTokenStore(redis, { ...DEFAULTS, accessTtl: 300, refreshTtl: 60 })
  const c = await start(shortStore, now)
  t.equal(await redis.pexpiretime(sessionKey(c)), now + 300_000)

  // Every key of the user has the user as its hash tag: one Cluster slot.
  t.same(
    [...new Set([sessionKey(a), sessionKey(b), userKey(userId), sessionsOf(userId)].map((k) => /\{([^}]*)\}/.exec(k)?.[1]))],
    [packUserId(userId)],
    "a user's session keys, index and session prefix share one hash tag"
  )

  // Every key this store wrote has a TTL.
  const keys = await keysUnder(redis, prefix)
  t.ok(keys.length >= 3)
  for (const k of keys) t.ok((await redis.pttl(k)) > 0, `${k} has a TTL`)
})

t.test('redis store: a long user agent is kept whole, in pieces that keep the hash compact', async (t) => {
  const tr = await testRedis()
  t.teardown(() => tr.cleanup())
  const store = new RedisTokenStore(tr.redis, DEFAULTS)
  t.same(pieces('ab\u00e9c', 3), ['ab', '\u00e9c'], 'never inside a character')
  t.same(pieces('', 64), [])
  // Latin-1, as Node reads headers: 2 UTF-8 bytes for each accented letter, 256 characters.
  const agent = 'Navigateur-\u00e9\u00e8\u00ea/1.0 '.repeat(20).slice(0, 256)
  const s = { sid: newId(), userId: randomUUID(), jti: newId() }
  await store.createSession({ ...s, ip: IP, userAgent: agent + 'cut off' })
  const listed = await store.listSessions(s.userId)
  t.equal(listed[0]?.userAgent.length, 256)
  t.equal(listed[0]?.userAgent, agent)
  // ioredis does not prefix OBJECT's key argument.
  t.equal(await tr.redis.object('ENCODING', tr.prefix + sessionKey(s)), 'listpack')
  t.throws(() => packJti('not-a-jti'), /16 bytes/)
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
  t.equal(await s2.refreshStatus({ userId, sid }, [...jtis][0]!), 'current')
})

t.test('redis store: memory per live session', async (t) => {
  // Key names count: a prefix as long as the default "auth:" (5 characters), random to stay this run's own.
  const tr = await testRedis(`m${randomBytes(2).toString('hex').slice(0, 3)}:`)
  t.teardown(() => tr.cleanup())
  const { redis, prefix } = tr
  const store = new RedisTokenStore(redis, DEFAULTS)
  const N = 1000
  const now = Date.now()
  // Worst case for the index: one user per session. Each session rotated once (every field set).
  const sessions = []
  for (let i = 0; i < N; i++) {
    const s = { sid: newId(), userId: randomUUID(), jti: newId() }
    await store.createSession({ ...s, now, ip: CLIENT_IP, userAgent: USER_AGENT })
    sessions.push(s)
  }
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
  t.ok(perSession < MEMORY_TARGET, `under ${MEMORY_TARGET} bytes per session with a ${USER_AGENT.length}-character user agent (${perSession.toFixed(0)})`)
})
