// Web clients (API.md, "Web clients"): cookie mode chosen per request by X-Auth-Mode: cookie, the
// CSRF check of every cookie-authenticated request, and CORS with credentials. In every mode the
// route tests run in (a single Redis, a Cluster, a Sentinel, the database store).
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance, InjectOptions } from 'fastify'
import t, { type Test } from 'tap'
import { build, claims, get, MODES, PASSWORD, post, register, uniqueName } from '../helper.js'

/** PUBLIC_URL's default in the tests (HOST 127.0.0.1, PORT 8000): the origin CSRF trusts. */
const ORIGIN = 'http://127.0.0.1:8000'
const TRUSTED = 'https://app.example.com'
const WEB = { 'x-auth-mode': 'cookie', origin: ORIGIN }
const BLACKLISTED = { detail: 'Token is blacklisted', code: 'token_not_valid' }
const CSRF = {
  missing: { detail: 'CSRF Failed: CSRF token missing.' },
  origin: { detail: 'CSRF Failed: Origin checking failed - https://evil.example does not match any trusted origins.' },
  referer: { detail: 'CSRF Failed: Referer checking failed - no Referer.' }
}

type Res = Awaited<ReturnType<FastifyInstance['inject']>>
interface Cookie {
  name: string
  value: string
  path?: string
  maxAge?: number
  httpOnly?: boolean
  secure?: boolean
  sameSite?: string
  domain?: string
}
const cookiesOf = (res: Res) => (res.cookies as Cookie[])
const refreshCookieOf = (res: Res) => cookiesOf(res).find((c) => c.name === 'refresh_token')

function send (app: FastifyInstance, url: string, { body = {}, headers = {}, cookie, access }: { body?: unknown; headers?: Record<string, string>; cookie?: string; access?: string } = {}) {
  const all: Record<string, string> = { ...headers }
  if (cookie !== undefined) all.cookie = `refresh_token=${cookie}`
  if (access) all.authorization = `Bearer ${access}`
  return app.inject({ method: 'POST', url, payload: body as InjectOptions['payload'], headers: all })
}

/** A session started in cookie mode: its access token and the refresh cookie's value. */
async function webLogin (t: Test, app: FastifyInstance) {
  const user = await register(app)
  const res = await send(app, '/api/auth/login/', { body: { username: user.username, password: PASSWORD }, headers: WEB })
  t.equal(res.statusCode, 200)
  const cookie = refreshCookieOf(res)
  return { user, access: (res.json() as { access: string }).access, cookie: cookie!.value }
}

for (const mode of MODES) {
  t.test(`cookie mode (${mode})`, async (t) => {
    const { app } = await build(t, mode, { REFRESH_REUSE_INTERVAL: '1', CSRF_TRUSTED_ORIGINS: TRUSTED })

    t.test('login, register and /api/token/ set the refresh cookie and leave it out of the body', async (t) => {
      const username = uniqueName()
      const reg = await send(app, '/api/auth/register/', { body: { username, email: `${username}@example.com`, password: PASSWORD }, headers: WEB })
      t.equal(reg.statusCode, 201)
      t.same(Object.keys(reg.json().tokens), ['access'], 'register: only the access token in the body')
      const answers = [
        reg,
        await send(app, '/api/auth/login/', { body: { username, password: PASSWORD }, headers: WEB }),
        await send(app, '/api/token/', { body: { username, password: PASSWORD }, headers: WEB })
      ]
      t.same(Object.keys(answers[1]!.json()).sort(), ['access', 'user'], 'login: no refresh in the body')
      t.same(Object.keys(answers[2]!.json()), ['access'], '/api/token/: no refresh in the body')
      for (const res of answers) {
        const cookie = refreshCookieOf(res)
        t.match(cookie, { path: '/api/auth/', maxAge: 86400, httpOnly: true, sameSite: 'Strict' }, 'HttpOnly, SameSite=Strict, Path=/api/auth/, Max-Age=REFRESH_TOKEN_TTL')
        t.notOk(cookie?.secure, 'not Secure outside production (COOKIE_SECURE unset)')
        t.notOk(cookie?.domain, 'no Domain unless COOKIE_DOMAIN')
        t.equal(claims(cookie!.value).token_type, 'refresh')
      }
    })

    t.test('without the header, every answer is as before: tokens in the body, no cookie', async (t) => {
      const user = await register(app)
      const login = await post(app, '/api/auth/login/', { username: user.username, password: PASSWORD })
      t.same(Object.keys(login.json()).sort(), ['access', 'refresh', 'user'])
      t.notOk(login.headers['set-cookie'])
      const refresh = await post(app, '/api/auth/refresh/', { refresh: login.json().refresh })
      t.same(Object.keys(refresh.json()).sort(), ['access', 'refresh'])
      t.notOk(refresh.headers['set-cookie'])
      const logout = await post(app, '/api/auth/logout/', { refresh: refresh.json().refresh }, refresh.json().access)
      t.equal(logout.statusCode, 200)
      t.notOk(logout.headers['set-cookie'])
    })

    t.test('refresh by cookie: a new cookie, the old one blacklisted; the body carries the access token only', async (t) => {
      const { cookie } = await webLogin(t, app)
      const res = await send(app, '/api/auth/refresh/', { headers: WEB, cookie })
      t.equal(res.statusCode, 200)
      t.same(Object.keys(res.json()), ['access'])
      const next = refreshCookieOf(res)!
      t.match(next, { path: '/api/auth/', maxAge: 86400, httpOnly: true, sameSite: 'Strict' })
      t.not(next.value, cookie)
      t.equal(claims(next.value).sid, claims(cookie).sid, 'the same session')
      t.equal((await get(app, '/api/auth/me/', res.json().access)).statusCode, 200)
      const alias = await send(app, '/api/auth/token/refresh/', { headers: WEB, cookie: next.value })
      t.equal(alias.statusCode, 200, 'and through the alias')
      await sleep(1_100)
      // The first cookie value, past the grace interval: reuse, the cookie is cleared, the session dies.
      const reuse = await send(app, '/api/auth/refresh/', { headers: WEB, cookie })
      t.equal(reuse.statusCode, 401)
      t.same(reuse.json(), BLACKLISTED)
      t.match(refreshCookieOf(reuse), { value: '', maxAge: 0, path: '/api/auth/' }, 'the cookie is cleared')
      t.equal((await send(app, '/api/auth/refresh/', { headers: WEB, cookie: refreshCookieOf(alias)!.value })).statusCode, 401, 'the whole session is revoked')
    })

    t.test('two refreshes of one cookie at once: both 200, one new token', async (t) => {
      const { cookie } = await webLogin(t, app)
      const [a, b] = await Promise.all([send(app, '/api/auth/refresh/', { headers: WEB, cookie }), send(app, '/api/auth/refresh/', { headers: WEB, cookie })])
      t.same([a.statusCode, b.statusCode], [200, 200])
      t.equal(refreshCookieOf(a)!.value, refreshCookieOf(b)!.value, 'the same new refresh token')
      t.equal((await send(app, '/api/auth/refresh/', { headers: WEB, cookie: refreshCookieOf(a)!.value })).statusCode, 200, 'and it is the current one')
    })

    t.test('a token in the body wins over the cookie; an invalid cookie is a 401 that clears it', async (t) => {
      const { cookie } = await webLogin(t, app)
      const other = await webLogin(t, app)
      const res = await send(app, '/api/auth/refresh/', { body: { refresh: other.cookie }, headers: WEB, cookie })
      t.equal(res.statusCode, 200)
      t.equal(claims(refreshCookieOf(res)!.value).sid, claims(other.cookie).sid, "the body's session rotated")
      t.equal((await send(app, '/api/auth/refresh/', { headers: WEB, cookie })).statusCode, 200, "the cookie's session untouched")
      const garbage = await send(app, '/api/auth/refresh/', { headers: WEB, cookie: 'garbage' })
      t.equal(garbage.statusCode, 401)
      t.match(refreshCookieOf(garbage), { value: '', maxAge: 0 })
    })

    t.test('logout takes the session from the cookie and clears it; logout-all clears it', async (t) => {
      const { access, cookie } = await webLogin(t, app)
      const res = await send(app, '/api/auth/logout/', { headers: WEB, cookie, access })
      t.equal(res.statusCode, 200)
      t.same(res.json(), { message: 'Successfully logged out' })
      t.match(refreshCookieOf(res), { value: '', maxAge: 0, path: '/api/auth/' })
      t.equal((await send(app, '/api/auth/refresh/', { headers: WEB, cookie })).statusCode, 401, 'the session is revoked')

      const second = await webLogin(t, app)
      const all = await send(app, '/api/auth/logout/all/', { headers: WEB, cookie: second.cookie, access: second.access })
      t.equal(all.statusCode, 200)
      t.match(refreshCookieOf(all), { value: '', maxAge: 0 })
      t.equal((await send(app, '/api/auth/refresh/', { headers: WEB, cookie: second.cookie })).statusCode, 401)

      // Deleting the account ends the session: the cookie goes too.
      const third = await webLogin(t, app)
      const gone = await app.inject({
        method: 'DELETE',
        url: '/api/auth/me/',
        payload: { password: PASSWORD },
        headers: { ...WEB, cookie: `refresh_token=${third.cookie}`, authorization: `Bearer ${third.access}` }
      })
      t.equal(gone.statusCode, 204)
      t.match(refreshCookieOf(gone), { value: '', maxAge: 0, path: '/api/auth/' })
    })

    t.test('CSRF: a cookie-authenticated refresh or logout without the header, from a foreign origin, or from nowhere is a 403 that changes nothing', async (t) => {
      const { access, cookie } = await webLogin(t, app)
      const refusals: Array<[Record<string, string>, object]> = [
        [{ origin: ORIGIN }, CSRF.missing],
        [{ 'x-auth-mode': 'cookie', origin: 'https://evil.example' }, CSRF.origin],
        [{ 'x-auth-mode': 'cookie' }, CSRF.referer]
      ]
      for (const url of ['/api/auth/refresh/', '/api/auth/token/refresh/', '/api/token/refresh/', '/api/auth/logout/']) {
        for (const [headers, body] of refusals) {
          const res = await send(app, url, { headers, cookie, ...(url.endsWith('logout/') ? { access } : {}) })
          t.equal(res.statusCode, 403, `${url} ${JSON.stringify(headers)}`)
          t.same(res.json(), body)
          t.notOk(res.headers['set-cookie'], 'the cookie stays')
        }
      }
      const foreignReferer = await send(app, '/api/auth/refresh/', { headers: { 'x-auth-mode': 'cookie', referer: 'https://evil.example/page' }, cookie })
      t.same(foreignReferer.json(), { detail: 'CSRF Failed: Referer checking failed - https://evil.example/page does not match any trusted origins.' })
      // Untouched: the same cookie still refreshes, from a trusted origin (CSRF_TRUSTED_ORIGINS) or
      // a page of the service's own (its Referer).
      const trusted = await send(app, '/api/auth/refresh/', { headers: { 'x-auth-mode': 'cookie', origin: TRUSTED }, cookie })
      t.equal(trusted.statusCode, 200, 'the session was untouched')
      const byReferer = await send(app, '/api/auth/refresh/', { headers: { 'x-auth-mode': 'cookie', referer: `${ORIGIN}/account/` }, cookie: refreshCookieOf(trusted)!.value })
      t.equal(byReferer.statusCode, 200)
    })
  })
}

t.test('the access cookie (ACCESS_COOKIE): set in cookie mode, accepted by protected routes without Authorization, under the CSRF check', async (t) => {
  const { app } = await build(t, 'embedded', { ACCESS_COOKIE: 'access_token', COOKIE_SECURE: 'true', COOKIE_SAMESITE: 'Lax' })
  const user = await register(app)
  const login = await send(app, '/api/auth/login/', { body: { username: user.username, password: PASSWORD }, headers: WEB })
  const access = cookiesOf(login).find((c) => c.name === 'access_token')
  t.match(access, { path: '/', maxAge: 300, httpOnly: true, secure: true, sameSite: 'Lax' })
  t.match(refreshCookieOf(login), { secure: true, sameSite: 'Lax' }, 'COOKIE_SECURE and COOKIE_SAMESITE')
  const me = (headers: Record<string, string>) => app.inject({ method: 'GET', url: '/api/auth/me/', headers: { cookie: `access_token=${access!.value}`, ...headers } })
  t.equal((await me(WEB)).statusCode, 200)
  t.equal((await me(WEB)).json().username, user.username)
  t.same((await me({ origin: ORIGIN })).json(), CSRF.missing)
  t.same((await me({ 'x-auth-mode': 'cookie', origin: 'https://evil.example' })).json(), CSRF.origin)
  t.same((await me({ 'x-auth-mode': 'cookie' })).json(), CSRF.referer)
  t.equal((await me({ authorization: 'Bearer nope' })).statusCode, 401, 'an Authorization header is what counts when there is one')
  const logout = await send(app, '/api/auth/logout/', { headers: WEB, cookie: refreshCookieOf(login)!.value, access: login.json().access })
  t.ok(cookiesOf(logout).some((c) => c.name === 'access_token' && c.maxAge === 0), 'logout clears the access cookie too')
  t.equal((await me(WEB)).statusCode, 401, 'and the session is gone')
})

t.test('CORS: credentials for CORS_ALLOWED_ORIGINS only, every method and header the API uses; CORS_ORIGINS still read, with a warning', async (t) => {
  const { app } = await build(t, 'embedded', { CORS_ALLOWED_ORIGINS: 'https://app.example.com, https://admin.example.com' })
  for (const method of ['PATCH', 'DELETE']) {
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/api/auth/me/',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': method, 'access-control-request-headers': 'authorization,content-type,x-auth-mode' }
    })
    t.equal(preflight.statusCode, 204)
    t.equal(preflight.headers['access-control-allow-origin'], 'https://app.example.com', 'the exact origin, never *')
    t.equal(preflight.headers['access-control-allow-credentials'], 'true')
    t.match(preflight.headers['access-control-allow-methods'], new RegExp(method))
    t.match(String(preflight.headers['access-control-allow-headers']).toLowerCase(), /authorization.*content-type.*x-auth-mode/)
  }
  const simple = await app.inject({ method: 'GET', url: '/health/live', headers: { origin: 'https://admin.example.com' } })
  t.equal(simple.headers['access-control-allow-origin'], 'https://admin.example.com')
  t.match(simple.headers.vary, /Origin/)
  const other = await app.inject({ method: 'GET', url: '/health/live', headers: { origin: 'https://evil.example.com' } })
  t.notOk(other.headers['access-control-allow-origin'], 'another origin: no CORS headers')
  t.notOk(other.headers['access-control-allow-credentials'])

  const old = await build(t, 'embedded', { CORS_ORIGINS: 'https://app.example.com', LOG_LEVEL: 'warn' })
  const res = await old.app.inject({ method: 'GET', url: '/health/live', headers: { origin: 'https://app.example.com' } })
  t.equal(res.headers['access-control-allow-origin'], 'https://app.example.com', 'the deprecated name still works')
  t.ok(old.logs.some((l) => l.level === 40 && /CORS_ORIGINS is deprecated: rename it CORS_ALLOWED_ORIGINS/.test(String(l.msg))), 'and says so')
})
