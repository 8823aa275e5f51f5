import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { build, claims, get, MODES, post, register } from '../../helper.js'

const BLACKLISTED = { detail: 'Token is blacklisted', code: 'token_not_valid' }
const INVALID = { detail: 'Token is invalid or expired', code: 'token_not_valid' }

for (const mode of MODES) {
  t.test(`refresh rotation (${mode})`, async (t) => {
    const { app } = await build(t, mode)

    t.test('rotates: a new pair, the old token blacklisted, all three paths and aliases', async (t) => {
      const user = await register(app)
      let refresh = user.refresh
      const paths: Array<[string, string]> = [
        ['/api/token/refresh/', 'refresh'],
        ['/api/auth/token/refresh', 'refreshToken'],
        ['/api/auth/refresh/', 'refresh_token']
      ]
      for (const [path, field] of paths) {
        const res = await post(app, path, { [field]: refresh })
        t.equal(res.statusCode, 200, path)
        const body = res.json()
        t.same(Object.keys(body).sort(), ['access', 'refresh'])
        t.not(body.refresh, refresh)
        t.equal(claims(body.refresh).sid, claims(refresh).sid, 'same session')
        t.equal(claims(body.access).token_type, 'access')
        t.equal((await get(app, '/api/auth/me/', body.access)).statusCode, 200)
        refresh = body.refresh
      }
      // The rotated token is no longer valid anywhere.
      t.same((await post(app, '/api/token/verify/', { token: user.refresh })).json(), INVALID)
    })

    t.test('400 without a token; 401 for garbage, an access token, a bad signature', async (t) => {
      const user = await register(app)
      const missing = await post(app, '/api/token/refresh/', {})
      t.equal(missing.statusCode, 400)
      t.same(missing.json(), { refresh: ['This field is required.'] })
      for (const token of ['garbage', user.access, user.refresh.slice(0, -3) + 'AAA']) {
        const res = await post(app, '/api/token/refresh/', { refresh: token })
        t.equal(res.statusCode, 401)
        t.same(res.json(), INVALID)
      }
      // None of that hurt the session.
      t.equal((await post(app, '/api/token/refresh/', { refresh: user.refresh })).statusCode, 200)
    })

    t.test('20 concurrent refreshes of one token: all 200, one new refresh token, one chain', async (t) => {
      const user = await register(app)
      const results = await Promise.all(Array.from({ length: 20 }, () => post(app, '/api/token/refresh/', { refresh: user.refresh })))
      t.same(results.map((r) => r.statusCode), Array(20).fill(200))
      const refreshes = new Set(results.map((r) => r.json().refresh))
      t.equal(refreshes.size, 1, 'every response carries the same new refresh token')
      const accesses = results.map((r) => r.json().access)
      for (const access of accesses) t.equal((await get(app, '/api/protected-endpoint/', access)).statusCode, 200)
      // The family continues as one chain from that token.
      const [next] = [...refreshes]
      const res = await post(app, '/api/token/refresh/', { refresh: next })
      t.equal(res.statusCode, 200)
      t.not(res.json().refresh, next)
      t.equal(claims(res.json().refresh).sid, claims(user.refresh).sid)
    })

    t.test('grace interval: the old token again gets the same new refresh token', async (t) => {
      const user = await register(app)
      const first = (await post(app, '/api/token/refresh/', { refresh: user.refresh })).json()
      const again = await post(app, '/api/token/refresh/', { refresh: user.refresh })
      t.equal(again.statusCode, 200)
      t.equal(again.json().refresh, first.refresh)
      t.not(again.json().access, first.access)
    })

    t.test('logout revokes: access and refresh refused at once', async (t) => {
      const user = await register(app)
      const res = await post(app, '/api/auth/logout/', { refresh: user.refresh }, user.access)
      t.equal(res.statusCode, 200)
      t.same(res.json(), { message: 'Successfully logged out' })
      t.same((await post(app, '/api/token/refresh/', { refresh: user.refresh })).json(), BLACKLISTED)
      const me = await get(app, '/api/auth/me/', user.access)
      t.equal(me.statusCode, 401)
      t.equal(me.json().code, 'token_not_valid')
    })
  })

  t.test(`reuse after the grace interval revokes the session (${mode})`, async (t) => {
    const { app } = await build(t, mode, { REFRESH_REUSE_INTERVAL: '1' })
    const user = await register(app)
    const other = await post(app, '/api/auth/login/', { username: user.username, password: user.password })
    const rotated = (await post(app, '/api/token/refresh/', { refresh: user.refresh })).json()
    await sleep(1300)
    const reuse = await post(app, '/api/token/refresh/', { refresh: user.refresh })
    t.equal(reuse.statusCode, 401)
    t.same(reuse.json(), BLACKLISTED)
    // Everything of that session is dead: the newest refresh token and every access token.
    t.same((await post(app, '/api/token/refresh/', { refresh: rotated.refresh })).json(), BLACKLISTED)
    for (const access of [user.access, rotated.access]) {
      const res = await get(app, '/api/protected-endpoint/', access)
      t.equal(res.statusCode, 401)
      t.same(res.json().messages, [{ token_class: 'AccessToken', token_type: 'access', message: 'Token is invalid or expired' }])
      t.equal((await post(app, '/api/token/verify/', { token: access })).statusCode, 401)
    }
    // Another session of the same user is untouched.
    t.equal((await get(app, '/api/protected-endpoint/', other.json().access)).statusCode, 200)
  })

  t.test(`the session's maximum age caps the refresh token (${mode})`, async (t) => {
    const { app } = await build(t, mode, { SESSION_MAX_AGE: '100', REFRESH_TOKEN_TTL: '1000' })
    const user = await register(app)
    const c = claims(user.refresh)
    t.equal((c.exp as number) - (c.iat as number), 100)
  })
}

t.test('Redis down during a refresh: a 503 at once, and the old state intact afterwards', async (t) => {
  const { app } = await build(t, 'postgres')
  const user = await register(app)
  app.redis!.disconnect()
  const started = Date.now()
  const down = await post(app, '/api/token/refresh/', { refresh: user.refresh })
  t.equal(down.statusCode, 503)
  t.same(down.json(), { detail: 'Service temporarily unavailable.' })
  t.equal(down.headers['retry-after'], '5')
  t.ok(Date.now() - started < 500, 'no wait for a connection that is down')
  const health = await get(app, '/health/ready')
  t.equal(health.statusCode, 503)
  t.same(health.json(), { status: 'unavailable', database: 'ok', token_store: 'unavailable' })
  while (app.redis!.status !== 'end') await new Promise((resolve) => setTimeout(resolve, 10))
  await app.redis!.connect()
  // The failed call rotated nothing: the token is still current and rotates once.
  const res = await post(app, '/api/token/refresh/', { refresh: user.refresh })
  t.equal(res.statusCode, 200)
  t.equal((await get(app, '/health/ready')).statusCode, 200)
})

t.test('two instances sharing one Redis (postgres mode)', async (t) => {
  const { app, twin } = await build(t, 'postgres')
  const app2 = await twin()
  const user = await register(app)
  // 20 racing refreshes split over both instances: still one rotation, one new token.
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => post(i % 2 ? app2 : app, '/api/token/refresh/', { refresh: user.refresh }))
  )
  t.same(results.map((r) => r.statusCode), Array(20).fill(200))
  t.equal(new Set(results.map((r) => r.json().refresh)).size, 1)
  // Logout on one instance is seen by the other on the next request.
  const next = results[0]!.json()
  t.equal((await get(app2, '/api/auth/me/', next.access)).statusCode, 200)
  t.equal((await post(app, '/api/auth/logout/', { refresh: next.refresh }, next.access)).statusCode, 200)
  t.equal((await get(app2, '/api/auth/me/', next.access)).statusCode, 401)
  t.same((await post(app2, '/api/token/refresh/', { refresh: next.refresh })).json(), BLACKLISTED)
})
