import { createHmac } from 'node:crypto'
import t from 'tap'
import { build, claims, get, header, MODES, post, register, TEST_SECRET } from '../helper.js'

const NOT_PROVIDED = { detail: 'Authentication credentials were not provided.' }
const NOT_VALID = {
  detail: 'Given token not valid for any token type',
  code: 'token_not_valid',
  messages: [{ token_class: 'AccessToken', token_type: 'access', message: 'Token is invalid or expired' }]
}

/** Signs arbitrary header and claims with the test secret (HS256). */
function forge(head: Record<string, unknown>, payload: Record<string, unknown>, secret = TEST_SECRET) {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const data = `${enc(head)}.${enc(payload)}`
  return `${data}.${createHmac('sha256', secret).update(data).digest('base64url')}`
}

for (const mode of MODES) {
  t.test(`protected routes, verify, logout (${mode})`, async (t) => {
    const { app } = await build(t, mode)

    t.test('protected endpoint and me', async (t) => {
      const user = await register(app, { first_name: 'Zed' })
      const ok = await get(app, '/api/protected-endpoint/', user.access)
      t.equal(ok.statusCode, 200)
      t.same(ok.json(), { message: 'You have accessed a protected route!' })
      const me = await get(app, '/api/auth/me', user.access)
      t.same(me.json(), { id: user.id, username: user.username, email: user.email, first_name: 'Zed', last_name: '', email_verified: false })
    })

    t.test('no credentials: 401 not provided with WWW-Authenticate', async (t) => {
      for (const headers of [{}, { authorization: '' }, { authorization: 'Bearer' }, { authorization: 'Bearer   ' }, { authorization: 'Basic abc' }]) {
        const res = await app.inject({ method: 'GET', url: '/api/protected-endpoint/', headers })
        t.equal(res.statusCode, 401, JSON.stringify(headers))
        t.same(res.json(), NOT_PROVIDED)
        t.equal(res.headers['www-authenticate'], 'Bearer realm="api"')
      }
    })

    t.test('bad, refresh-type, forged, alg none, expired tokens: 401 token_not_valid', async (t) => {
      const user = await register(app)
      const c = claims(user.access)
      const h = header(user.access)
      const now = Math.floor(Date.now() / 1000)
      const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid: h.kid })).toString('base64url')}.${Buffer.from(JSON.stringify(c)).toString('base64url')}.`
      const tokens = {
        garbage: 'not.a.token',
        refreshAsAccess: user.refresh,
        wrongSecret: forge(h, c, 'another-secret-that-is-at-least-32-bytes'),
        algNone: none,
        hs512: forge({ ...h, alg: 'HS512' }, c),
        expired: forge(h, { ...c, iat: now - 1000, exp: now - 10 }),
        unknownKid: forge({ ...h, kid: 'other' }, c),
        noSession: forge(h, { ...c, sid: 'no-such-session' })
      }
      for (const [name, token] of Object.entries(tokens)) {
        const res = await get(app, '/api/protected-endpoint/', token)
        t.equal(res.statusCode, 401, name)
        t.same(res.json(), NOT_VALID, name)
        t.equal(res.headers['www-authenticate'], 'Bearer realm="api"', name)
      }
      // A correctly forged token with the real secret and a live session is accepted: the checks above failed for their reason.
      t.equal((await get(app, '/api/protected-endpoint/', forge(h, c))).statusCode, 200)
    })

    t.test('verify', async (t) => {
      const user = await register(app)
      t.equal((await post(app, '/api/token/verify/', { token: user.access })).statusCode, 200)
      const ok = await post(app, '/api/token/verify/', { token: user.refresh })
      t.equal(ok.statusCode, 200)
      t.same(ok.json(), {})
      const bad = await post(app, '/api/token/verify/', { token: 'nope' })
      t.equal(bad.statusCode, 401)
      t.same(bad.json(), { detail: 'Token is invalid or expired', code: 'token_not_valid' })
      const missing = await post(app, '/api/token/verify/', {})
      t.equal(missing.statusCode, 400)
      t.same(missing.json(), { token: ['This field is required.'] })
    })

    t.test('logout errors', async (t) => {
      const a = await register(app)
      const b = await register(app)
      t.same((await post(app, '/api/auth/logout/', {}, a.access)).json(), { error: 'Refresh token required' })
      const blank = await post(app, '/api/auth/logout/', { refresh: '' }, a.access)
      t.equal(blank.statusCode, 400)
      t.same(blank.json(), { error: 'Refresh token required' })
      const notString = await post(app, '/api/auth/logout/', { refresh: 12 }, a.access)
      t.equal(notString.statusCode, 400)
      t.same(notString.json(), { error: 'Invalid refresh token: Token is invalid or expired' })
      // Authentication comes first: a bad body without credentials is a 401.
      const unauthenticated = await post(app, '/api/auth/logout/', { refresh: 12 })
      t.equal(unauthenticated.statusCode, 401)
      t.same(unauthenticated.json(), NOT_PROVIDED)
      const invalid = await post(app, '/api/auth/logout/', { refresh: 'garbage' }, a.access)
      t.equal(invalid.statusCode, 400)
      t.same(invalid.json(), { error: 'Invalid refresh token: Token is invalid or expired' })
      const notMine = await post(app, '/api/auth/logout/', { refresh: b.refresh }, a.access)
      t.equal(notMine.statusCode, 403)
      t.same(notMine.json(), { error: 'Token does not belong to user' })
      // b's session survived the attempt.
      t.equal((await get(app, '/api/auth/me/', b.access)).statusCode, 200)
      const noAuth = await post(app, '/api/auth/logout/', { refresh: a.refresh })
      t.equal(noAuth.statusCode, 401)
      t.same(noAuth.json(), NOT_PROVIDED)
      // Logging out with a rotated token: blacklisted.
      const rotated = (await post(app, '/api/token/refresh/', { refresh: a.refresh })).json()
      const old = await post(app, '/api/auth/logout/', { refresh: a.refresh }, rotated.access)
      t.equal(old.statusCode, 400)
      t.same(old.json(), { error: 'Invalid refresh token: Token is blacklisted' })
      t.equal((await post(app, '/api/auth/logout/', { refresh_token: rotated.refresh }, rotated.access)).statusCode, 200)
      const again = await post(app, '/api/auth/logout/', { refresh: rotated.refresh }, (await register(app)).access)
      t.same(again.json(), { error: 'Invalid refresh token: Token is blacklisted' })
    })

    t.test('logout-all revokes every session of the user, and only theirs', async (t) => {
      const user = await register(app)
      const other = await register(app)
      const sessions = [user]
      for (let i = 0; i < 3; i++) sessions.push({ ...user, ...(await post(app, '/api/auth/login/', { username: user.username, password: user.password })).json() })
      const res = await post(app, '/api/auth/logout/all/', {}, sessions[1]!.access)
      t.equal(res.statusCode, 200)
      t.same(res.json(), { message: 'Successfully logged out of all sessions' })
      for (const s of sessions) {
        t.equal((await get(app, '/api/protected-endpoint/', s.access)).statusCode, 401)
        t.equal((await post(app, '/api/token/refresh/', { refresh: s.refresh })).statusCode, 401)
      }
      t.equal((await get(app, '/api/protected-endpoint/', other.access)).statusCode, 200)
      // Logging in again works.
      t.equal((await post(app, '/api/auth/login/', { username: user.username, password: user.password })).statusCode, 200)
    })
  })
}
