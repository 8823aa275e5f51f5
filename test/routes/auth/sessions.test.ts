// The sessions list, revoking one session, and logout-all with except_current, in both modes.
import t from 'tap'
import { build, call, get, login, MODES, post, register } from '../../helper.js'

const PHONE = 'MyApp/2.1 (iPhone; iOS 17.5) '.repeat(10)

for (const mode of MODES) {
  t.test(`sessions (${mode})`, async (t) => {
    const { app } = await build(t, mode)
    const loginFrom = async (username: string, userAgent: string, ip: string) => {
      const res = await app.inject({ method: 'POST', url: '/api/auth/login/', payload: { username, password: 'Str0ng-Passphrase!' }, headers: { 'user-agent': userAgent }, remoteAddress: ip })
      t.equal(res.statusCode, 200)
      return res.json() as { access: string; refresh: string }
    }
    const sidOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sid as string

    t.test('the list: live sessions, newest first, with their login details; current marks the caller', async (t) => {
      const user = await register(app)
      const phone = await loginFrom(user.username, PHONE, '203.0.113.7')
      await new Promise((resolve) => setTimeout(resolve, 5))
      const laptop = await loginFrom(user.username, 'Mozilla/5.0 (X11; Linux x86_64)', '198.51.100.4')
      const other = await register(app) // another user's sessions are never listed
      t.ok(other)
      const res = await get(app, '/api/auth/sessions/', phone.access)
      t.equal(res.statusCode, 200)
      t.equal(res.headers['cache-control'], 'no-store')
      const list = res.json() as Array<Record<string, unknown>>
      t.same(list.map((s) => s.id), [sidOf(laptop.access), sidOf(phone.access), sidOf(user.access)], 'newest first')
      t.same(Object.keys(list[0]!).sort(), ['amr', 'auth_time', 'created', 'current', 'expires', 'id', 'ip', 'last_used', 'user_agent'])
      t.match(list[0], { ip: '198.51.100.4', user_agent: 'Mozilla/5.0 (X11; Linux x86_64)', current: false })
      t.match(list[1], { ip: '203.0.113.7', user_agent: PHONE.slice(0, 256), current: true }, 'the user agent is cut to 256 characters')
      t.equal((list[1]!.user_agent as string).length, 256)
      for (const s of list) {
        t.match(s.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
        t.equal(s.last_used, s.created, 'not used since the login')
        const expires = Date.parse(s.expires as string)
        t.ok(Math.abs(expires - Date.parse(s.created as string) - 86_400_000) <= 1000, 'expires with the refresh token, a day later')
      }
      // A refresh moves last_used and expires of that session only; listing moves nothing.
      await new Promise((resolve) => setTimeout(resolve, 1100))
      const rotated = await post(app, '/api/token/refresh/', { refresh: phone.refresh })
      t.equal(rotated.statusCode, 200)
      const again = (await get(app, '/api/auth/sessions/', laptop.access)).json() as Array<Record<string, unknown>>
      const phoneNow = again.find((s) => s.id === sidOf(phone.access))!
      t.ok(Date.parse(phoneNow.last_used as string) > Date.parse(phoneNow.created as string), 'last_used moved')
      t.ok(Date.parse(phoneNow.expires as string) > Date.parse(list[1]!.expires as string), 'expires moved')
      t.equal(again.find((s) => s.id === sidOf(laptop.access))!.current, true)
      t.equal(again.find((s) => s.id === sidOf(laptop.access))!.last_used, list[0]!.last_used)
    })

    t.test('DELETE one session: 204, its tokens stop working at once, the others keep working', async (t) => {
      const user = await register(app)
      const other = await login(app, user.username)
      const res = await call(app, 'DELETE', `/api/auth/sessions/${sidOf(other.access)}/`, { access: user.access })
      t.equal(res.statusCode, 204)
      t.equal(res.body, '')
      t.equal((await get(app, '/api/protected-endpoint/', other.access)).statusCode, 401)
      t.same((await post(app, '/api/token/refresh/', { refresh: other.refresh })).json(), { detail: 'Token is blacklisted', code: 'token_not_valid' })
      t.equal((await get(app, '/api/protected-endpoint/', user.access)).statusCode, 200)
      t.same(((await get(app, '/api/auth/sessions/', user.access)).json() as Array<{ id: string }>).map((s) => s.id), [sidOf(user.access)])
      // Without the trailing slash too; and the caller may end its own session.
      t.equal((await call(app, 'DELETE', `/api/auth/sessions/${sidOf(user.access)}`, { access: user.access })).statusCode, 204)
      t.equal((await get(app, '/api/auth/me/', user.access)).statusCode, 401)
    })

    t.test("404 for an unknown, revoked or another user's session: never 403", async (t) => {
      const alice = await register(app)
      const bob = await register(app)
      const notFound = { detail: 'Not found.' }
      for (const id of [sidOf(bob.access), 'AAAAAAAAAAAAAAAAAAAAAA', 'not a sid', '%7Bx%7D', 'x'.repeat(300)]) {
        const res = await call(app, 'DELETE', `/api/auth/sessions/${id}/`, { access: alice.access })
        t.equal(res.statusCode, 404, id)
        t.same(res.json(), notFound)
      }
      const malformed = await call(app, 'DELETE', '/api/auth/sessions/%E0%A4%A/', { access: alice.access })
      t.equal(malformed.statusCode, 400, 'a malformed percent-encoding')
      t.same(malformed.json(), { detail: 'Malformed URL.' })
      t.equal(malformed.headers['x-content-type-options'], 'nosniff')
      t.equal((await get(app, '/api/protected-endpoint/', bob.access)).statusCode, 200, "bob's session is untouched")
      const mine = await login(app, alice.username)
      t.equal((await call(app, 'DELETE', `/api/auth/sessions/${sidOf(mine.access)}/`, { access: alice.access })).statusCode, 204)
      t.equal((await call(app, 'DELETE', `/api/auth/sessions/${sidOf(mine.access)}/`, { access: alice.access })).statusCode, 404, 'already revoked')
    })

    t.test('both need a valid access token', async (t) => {
      const user = await register(app)
      for (const [method, url] of [['GET', '/api/auth/sessions/'], ['DELETE', `/api/auth/sessions/${sidOf(user.access)}/`]] as const) {
        const none = await call(app, method, url)
        t.equal(none.statusCode, 401)
        t.same(none.json(), { detail: 'Authentication credentials were not provided.' })
        t.equal(none.headers['www-authenticate'], 'Bearer realm="api"')
        t.equal((await call(app, method, url, { access: user.refresh })).statusCode, 401, 'a refresh token is not an access token')
      }
      t.equal((await get(app, '/api/protected-endpoint/', user.access)).statusCode, 200)
    })

    t.test('logout/all with except_current: every other session, the caller keeps working', async (t) => {
      const user = await register(app)
      const a = await login(app, user.username)
      const b = await login(app, user.username)
      const res = await post(app, '/api/auth/logout/all/', { except_current: true }, a.access)
      t.equal(res.statusCode, 200)
      t.same(res.json(), { message: 'Successfully logged out of all other sessions' })
      t.equal((await get(app, '/api/protected-endpoint/', a.access)).statusCode, 200)
      t.equal((await post(app, '/api/token/refresh/', { refresh: a.refresh })).statusCode, 200)
      for (const s of [user, b]) {
        t.equal((await get(app, '/api/protected-endpoint/', s.access)).statusCode, 401)
        t.equal((await post(app, '/api/token/refresh/', { refresh: s.refresh })).statusCode, 401)
      }
      t.equal(((await get(app, '/api/auth/sessions/', a.access)).json() as unknown[]).length, 1)
    })

    t.test('logout/all without a body, with {}, or except_current false: every session', async (t) => {
      for (const body of [undefined, {}, { except_current: false }]) {
        const user = await register(app)
        const other = await login(app, user.username)
        const res = await call(app, 'POST', '/api/auth/logout/all/', { access: user.access, body })
        t.equal(res.statusCode, 200)
        t.same(res.json(), { message: 'Successfully logged out of all sessions' })
        t.equal((await get(app, '/api/protected-endpoint/', user.access)).statusCode, 401)
        t.equal((await get(app, '/api/protected-endpoint/', other.access)).statusCode, 401)
      }
    })

    t.test('logout/all: except_current must be a boolean', async (t) => {
      const user = await register(app)
      for (const value of ['yes', 1, null]) {
        const res = await post(app, '/api/auth/logout/all/', { except_current: value }, user.access)
        t.equal(res.statusCode, 400)
        t.same(res.json(), { except_current: [value === null ? 'This field may not be null.' : 'Must be a valid boolean.'] })
      }
      t.equal((await get(app, '/api/protected-endpoint/', user.access)).statusCode, 200, 'nothing was revoked')
    })
  })
}
