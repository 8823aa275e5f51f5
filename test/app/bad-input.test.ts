import t from 'tap'
import { build, get, post, register } from '../helper.js'

t.test('bad input never reaches a 500', async (t) => {
  const { app } = await build(t, 'embedded')

  t.test('malformed JSON: 400 JSON parse error', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/api/auth/login/', headers: { 'content-type': 'application/json' }, payload: '{"username": ' })
    t.equal(res.statusCode, 400)
    t.match(res.json().detail, /^JSON parse error - /)
    t.notMatch(res.body, /at .*\.js/, 'no stack trace')
  })

  t.test('prototype poisoning is refused', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/api/auth/login/', headers: { 'content-type': 'application/json' }, payload: '{"__proto__": {"x": 1}, "username": "a", "password": "b"}' })
    t.equal(res.statusCode, 400)
  })

  t.test('wrong content type: 415', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/api/auth/login/', headers: { 'content-type': 'text/plain' }, payload: 'username=a' })
    t.equal(res.statusCode, 415)
    t.same(res.json(), { detail: 'Unsupported media type "text/plain" in request.' })
  })

  t.test('oversized body: 413', async (t) => {
    const res = await post(app, '/api/auth/login/', { username: 'a', password: 'x'.repeat(100_000) })
    t.equal(res.statusCode, 413)
    t.same(res.json(), { detail: 'Request body is too large.' })
  })

  t.test('empty body and no body: every field required', async (t) => {
    const empty = await app.inject({ method: 'POST', url: '/api/auth/login/', headers: { 'content-type': 'application/json' }, payload: '' })
    t.equal(empty.statusCode, 400)
    t.same(empty.json(), { username: ['This field is required.'], password: ['This field is required.'] })
    const none = await app.inject({ method: 'POST', url: '/api/token/refresh/' })
    t.equal(none.statusCode, 400)
    t.same(none.json(), { refresh: ['This field is required.'] })
  })

  t.test('wrong types and shapes: 400 field errors', async (t) => {
    const res = await post(app, '/api/auth/login/', { username: ['a'], password: { x: 1 } })
    t.equal(res.statusCode, 400)
    t.same(res.json(), { username: ['Not a valid string.'], password: ['Not a valid string.'] })
    const str = await app.inject({ method: 'POST', url: '/api/token/verify/', headers: { 'content-type': 'application/json' }, payload: '"just a string"' })
    t.equal(str.statusCode, 400)
    t.same(str.json(), { non_field_errors: ['Invalid data. Expected a dictionary, but got str.'] })
    const refresh = await post(app, '/api/token/refresh/', { refresh: 12 })
    t.same(refresh.json(), { refresh: ['Not a valid string.'] })
  })

  t.test('unknown path: 404; wrong method: 405 with Allow', async (t) => {
    const nf = await get(app, '/api/nope/')
    t.equal(nf.statusCode, 404)
    t.same(nf.json(), { detail: 'Not found.' })
    const wm = await get(app, '/api/auth/login/')
    t.equal(wm.statusCode, 405)
    t.same(wm.json(), { detail: 'Method "GET" not allowed.' })
    t.equal(wm.headers.allow, 'POST')
    const wm2 = await app.inject({ method: 'PUT', url: '/api/auth/me' })
    t.equal(wm2.statusCode, 405)
  })

  t.test('a real server error: 500 without details', async (t) => {
    const user = await register(app)
    const original = app.users.findById
    app.users.findById = async () => {
      throw new Error('database exploded: secret connection string')
    }
    t.teardown(() => {
      app.users.findById = original
    })
    const res = await get(app, '/api/auth/me/', user.access)
    t.equal(res.statusCode, 500)
    t.same(res.json(), { detail: 'Internal server error' })
  })
})

t.test('CORS only for the configured origins', async (t) => {
  const { app } = await build(t, 'embedded', { CORS_ALLOWED_ORIGINS: 'https://app.example.com' })
  const preflight = await app.inject({
    method: 'OPTIONS',
    url: '/api/auth/login/',
    headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' }
  })
  t.equal(preflight.statusCode, 204)
  t.equal(preflight.headers['access-control-allow-origin'], 'https://app.example.com')
  const other = await app.inject({ method: 'GET', url: '/health/live', headers: { origin: 'https://evil.example.com' } })
  t.notOk(other.headers['access-control-allow-origin'])
  const { app: plain } = await build(t, 'embedded')
  const none = await plain.inject({ method: 'GET', url: '/health/live', headers: { origin: 'https://app.example.com' } })
  t.notOk(none.headers['access-control-allow-origin'])
})
