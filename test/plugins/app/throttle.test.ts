// The throttle plugin (plugins/app/throttle.ts): its login-failure policy called with explicit
// (ip, account) arguments and its request limits, then the routes' use of them over HTTP (login,
// token obtain, refresh) and which client address it counts (TRUST_PROXY).
import t from 'tap'
import { ApiError } from '../../../plugins/app/errors.js'
import { build, claims, forge, header, MODES, PASSWORD, post, register, uniqueName } from '../../helper.js'

const THROTTLED = /^Request was throttled\. Expected available in \d+ seconds?\.$/

const limited = {
  RATE_LIMIT_ENABLED: 'true',
  LOGIN_FAILURES_PER_USER_IP: '2',
  LOGIN_FAILURES_PER_ACCOUNT: '3'
}

/** The 429 checkLogin threw, or null when it let the login through. */
async function refusal (check: Promise<void>): Promise<ApiError | null> {
  try {
    await check
    return null
  } catch (err) {
    if (err instanceof ApiError) return err
    throw err
  }
}

for (const mode of MODES) {
  t.test(`login failures per (ip, account) and per account (${mode})`, async (t) => {
    const { app } = await build(t, mode, limited)
    const { throttle } = app
    const account = `ann_${Date.now()}`

    t.equal(await refusal(throttle.checkLogin('192.0.2.1', account)), null, 'no failures yet')
    await throttle.failLogin('192.0.2.1', account)
    t.equal(await refusal(throttle.checkLogin('192.0.2.1', account)), null, 'one failure of two')
    // The key is counted as given: accounts folds the name (one owner), the throttle does not again.
    await throttle.failLogin('192.0.2.1', account.toUpperCase())
    t.equal(await refusal(throttle.checkLogin('192.0.2.1', account)), null, 'another spelling of the key is another bucket')
    await throttle.failLogin('192.0.2.1', account)

    const blocked = await refusal(throttle.checkLogin('192.0.2.1', account))
    t.equal(blocked?.statusCode, 429, 'the (ip, account) limit: two failures')
    t.match(blocked?.body, { detail: THROTTLED })
    t.match(blocked?.headers, { 'retry-after': /^\d+$/ })
    t.ok(Number(blocked?.headers['retry-after']) > 60 && Number(blocked?.headers['retry-after']) <= 900, 'within the 15-minute window')

    t.equal(await refusal(throttle.checkLogin('192.0.2.2', account)), null, 'another IP: two failures of three for the account')
    t.equal(await refusal(throttle.checkLogin('192.0.2.1', `${account}_other`)), null, 'another account from the same IP')

    await throttle.failLogin('192.0.2.2', account)
    const everywhere = await refusal(throttle.checkLogin('192.0.2.2', account))
    t.equal(everywhere?.statusCode, 429, 'three failures from all IPs: every IP that failed on the account is throttled')
    t.ok(Number(everywhere?.headers['retry-after']) > 900, 'for the hour-long window')
    t.equal(await refusal(throttle.checkLogin('192.0.2.3', account)), null, 'an IP that never failed on it may still try (the owner)')
    await throttle.failLogin('192.0.2.3', account)
    t.equal((await refusal(throttle.checkLogin('192.0.2.3', account)))?.statusCode, 429, 'and is throttled after one failure')
  })
}

t.test('long account names are counted under a hash, not as typed', async (t) => {
  const { app } = await build(t, 'embedded', limited)
  const long = 'x'.repeat(300)
  await app.throttle.failLogin('192.0.2.9', long)
  await app.throttle.failLogin('192.0.2.9', long)
  t.equal((await refusal(app.throttle.checkLogin('192.0.2.9', long)))?.statusCode, 429)
  t.equal(await refusal(app.throttle.checkLogin('192.0.2.9', 'x'.repeat(299))), null, 'a different long name has its own bucket')
})

t.test('RATE_LIMIT_ENABLED=false: nothing is counted or refused', async (t) => {
  const { app } = await build(t, 'embedded', { ...limited, RATE_LIMIT_ENABLED: 'false' })
  for (let i = 0; i < 5; i++) await app.throttle.failLogin('192.0.2.1', 'ann')
  t.equal(await refusal(app.throttle.checkLogin('192.0.2.1', 'ann')), null)
  t.same(app.throttle.loginAttempts, [])
  t.same(app.throttle.perRequest({ max: 1, timeWindow: 1000, key: () => 'k' }), [])
})

for (const mode of MODES) {
  t.test(`throttling over HTTP (${mode})`, async (t) => {
    t.test('login: 5 failures per (IP, username), then 429 with Retry-After even for the right password', async (t) => {
      const { app } = await build(t, mode, { RATE_LIMIT_ENABLED: 'true' })
      const user = await register(app)
      for (let i = 0; i < 5; i++) {
        t.equal((await post(app, '/api/auth/login/', { username: user.username, password: 'wrong-' + i })).statusCode, 401)
      }
      const blocked = await post(app, '/api/auth/login/', { username: user.username, password: PASSWORD })
      t.equal(blocked.statusCode, 429)
      t.match(blocked.json().detail, THROTTLED)
      const retry = Number(blocked.headers['retry-after'])
      t.ok(retry > 0 && retry <= 900, `Retry-After ${retry}`)
      // The token endpoint shares the limit; another username from the same IP is not blocked.
      t.equal((await post(app, '/api/token/', { username: user.username, password: PASSWORD })).statusCode, 429)
      const other = await register(app)
      t.equal((await post(app, '/api/auth/login/', { username: other.username, password: PASSWORD })).statusCode, 200)
      // The same username from another IP is not blocked by the per-IP limit.
      const fromElsewhere = await app.inject({ method: 'POST', url: '/api/auth/login/', remoteAddress: '10.9.8.7', payload: { username: user.username, password: PASSWORD } })
      t.equal(fromElsewhere.statusCode, 200)
      // Unknown usernames behave exactly the same (no enumeration through the limits).
      const ghost = uniqueName('ghost')
      for (let i = 0; i < 5; i++) t.equal((await post(app, '/api/auth/login/', { username: ghost, password: 'x' })).statusCode, 401)
      t.equal((await post(app, '/api/auth/login/', { username: ghost, password: 'x' })).statusCode, 429)
    })

    t.test('login: failures per account from all IPs together; the owner from a clean IP still gets in', async (t) => {
      const { app } = await build(t, mode, { RATE_LIMIT_ENABLED: 'true', LOGIN_FAILURES_PER_ACCOUNT: '3' })
      const user = await register(app)
      const from = (ip: string, password: string, username = user.username) =>
        app.inject({ method: 'POST', url: '/api/auth/login/', remoteAddress: ip, payload: { username, password } })
      // The guesses name the account three ways: all count for it.
      for (const [i, name] of [user.username, user.username.toUpperCase(), user.email].entries()) {
        t.equal((await from(`10.0.0.${i + 1}`, 'bad', name)).statusCode, 401)
      }
      t.equal((await from('10.0.0.1', PASSWORD)).statusCode, 429, 'an IP that failed on the account is blocked, even with the password')
      t.equal((await from('10.0.0.99', PASSWORD)).statusCode, 200, 'the owner, from an IP with no failure on it, logs in')
      t.equal((await from('10.0.0.98', 'bad')).statusCode, 401, 'a fresh IP gets one guess')
      t.equal((await from('10.0.0.98', PASSWORD)).statusCode, 429, 'and is then blocked')
    })

    t.test('login: the per-(IP, account) limit counts the account however it is named', async (t) => {
      const { app } = await build(t, mode, { RATE_LIMIT_ENABLED: 'true' })
      const user = await register(app)
      for (const name of [user.username, user.username.toUpperCase(), user.email, user.email.toUpperCase(), ` ${user.username}`]) {
        t.equal((await post(app, '/api/auth/login/', { username: name, password: 'wrong-password' })).statusCode, 401, name)
      }
      t.equal((await post(app, '/api/token/', { username: user.email, password: PASSWORD })).statusCode, 429, 'five failures, one account')
    })

    t.test('login attempts per IP per minute', async (t) => {
      const { app } = await build(t, mode, { RATE_LIMIT_ENABLED: 'true', LOGIN_ATTEMPTS_PER_IP: '3', LOGIN_FAILURES_PER_USER_IP: '100' })
      const user = await register(app)
      const statuses: number[] = []
      for (let i = 0; i < 4; i++) statuses.push((await post(app, i % 2 ? '/api/token/' : '/api/auth/login/', { username: user.username, password: PASSWORD })).statusCode)
      t.same(statuses, [200, 200, 200, 429])
    })

    t.test('registrations per IP', async (t) => {
      const { app } = await build(t, mode, { RATE_LIMIT_ENABLED: 'true', REGISTRATIONS_PER_IP: '2' })
      await register(app)
      await register(app)
      const username = uniqueName()
      const res = await post(app, '/api/auth/register/', { username, email: `${username}@example.com`, password: PASSWORD })
      t.equal(res.statusCode, 429)
      t.match(res.json().detail, THROTTLED)
      t.ok(res.headers['retry-after'])
      t.notOk(await app.users.findByLogin(username), 'no user was created')
    })

    t.test('refreshes per session', async (t) => {
      const { app } = await build(t, mode, { RATE_LIMIT_ENABLED: 'true', REFRESHES_PER_SESSION: '3' })
      const user = await register(app)
      const other = await register(app)
      let refresh = user.refresh
      for (let i = 0; i < 3; i++) {
        const res = await post(app, '/api/token/refresh/', { refresh })
        t.equal(res.statusCode, 200)
        refresh = res.json().refresh
      }
      const res = await post(app, '/api/token/refresh/', { refresh })
      t.equal(res.statusCode, 429)
      t.ok(res.headers['retry-after'])
      // Another session from the same IP is not affected.
      t.equal((await post(app, '/api/token/refresh/', { refresh: other.refresh })).statusCode, 200)
    })

    t.test("refreshes: junk tokens carrying a victim's sid do not throttle the victim", async (t) => {
      const { app } = await build(t, mode, { RATE_LIMIT_ENABLED: 'true', REFRESHES_PER_SESSION: '3' })
      const victim = await register(app)
      // The payload is readable, so anyone can put the victim's sid in a token of their own making.
      const junk = forge(header(victim.refresh), claims(victim.refresh), 'not-the-secret')
      for (let i = 0; i < 6; i++) {
        const res = await app.inject({ method: 'POST', url: '/api/token/refresh/', remoteAddress: '10.6.6.6', payload: { refresh: junk } })
        t.equal(res.statusCode, i < 3 ? 401 : 429, `junk ${i + 1}: the attacker's own IP bucket`)
      }
      t.equal((await post(app, '/api/token/refresh/', { refresh: victim.refresh })).statusCode, 200, "the victim's session is not throttled")
    })
  })
}

t.test('X-Forwarded-For is believed only from TRUST_PROXY', async (t) => {
  const { app } = await build(t, 'embedded', { RATE_LIMIT_ENABLED: 'true', LOGIN_FAILURES_PER_USER_IP: '2', LOGIN_FAILURES_PER_ACCOUNT: '1000' })
  const user = await register(app)
  const attempt = (xff: string) =>
    app.inject({ method: 'POST', url: '/api/auth/login/', headers: { 'x-forwarded-for': xff }, payload: { username: user.username, password: 'bad' } })
  t.equal((await attempt('1.1.1.1')).statusCode, 401)
  t.equal((await attempt('2.2.2.2')).statusCode, 401)
  // Spoofed headers do not give new buckets: the socket address is used.
  t.equal((await attempt('3.3.3.3')).statusCode, 429)

  const { app: proxied } = await build(t, 'embedded', { RATE_LIMIT_ENABLED: 'true', LOGIN_FAILURES_PER_USER_IP: '2', TRUST_PROXY: '127.0.0.1' })
  const u2 = await register(proxied)
  const viaProxy = (xff: string) =>
    proxied.inject({ method: 'POST', url: '/api/auth/login/', headers: { 'x-forwarded-for': xff }, payload: { username: u2.username, password: 'bad' } })
  t.equal((await viaProxy('1.1.1.1')).statusCode, 401)
  t.equal((await viaProxy('1.1.1.1')).statusCode, 401)
  t.equal((await viaProxy('1.1.1.1')).statusCode, 429)
  t.equal((await viaProxy('2.2.2.2')).statusCode, 401, 'another client behind the trusted proxy has its own bucket')
})
