// ROTATE_REFRESH_TOKENS=false (SimpleJWT's setting) in every mode the route tests run in: a
// refresh answers an access token only, the refresh token stays valid (no reuse detection to
// trip), the sessions list moves its last use, and revocation is as immediate as ever. Then two
// instances with different profiles on one database and token store serving the same sessions.
import t from 'tap'
import { build, call, get, login, MODES, post, register } from '../helper.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

for (const mode of MODES) {
  t.test(`ROTATE_REFRESH_TOKENS=false (${mode})`, async (t) => {
    const { app } = await build(t, mode, { ROTATE_REFRESH_TOKENS: 'false', REFRESH_REUSE_INTERVAL: '1' })

    t.test('a refresh answers an access token only; the same refresh token keeps working past the grace interval', async (t) => {
      const user = await register(app)
      const before = (await get(app, '/api/auth/sessions/', user.access)).json()[0]
      for (let i = 0; i < 2; i++) {
        await sleep(1_100)
        const res = await post(app, '/api/token/refresh/', { refresh: user.refresh })
        t.equal(res.statusCode, 200)
        t.same(Object.keys(res.json()), ['access'], 'SimpleJWT without rotation: {"access"}')
        t.equal((await get(app, '/api/protected-endpoint/', res.json().access)).statusCode, 200)
      }
      t.equal((await post(app, '/api/token/verify/', { token: user.refresh })).statusCode, 200, 'the refresh token is still current')
      const after = (await get(app, '/api/auth/sessions/', user.access)).json()
      t.equal(after.length, 1, 'still one session')
      t.ok(Date.parse(after[0].last_used) > Date.parse(before.last_used), `last_used moved (${before.last_used} -> ${after[0].last_used})`)
      t.equal(after[0].expires, before.expires, 'the refresh token expires when it always did')
    })

    t.test('20 refreshes racing on one token: all 200', async (t) => {
      const user = await register(app)
      const results = await Promise.all(Array.from({ length: 20 }, () => post(app, '/api/auth/refresh/', { refresh: user.refresh })))
      t.same(results.map((r) => r.statusCode), Array(20).fill(200))
      t.equal((await post(app, '/api/auth/refresh/', { refresh: user.refresh })).statusCode, 200, 'and the token still works')
    })

    t.test('logout racing with a refresh: the session ends, whichever ran first', async (t) => {
      const user = await register(app)
      const [logout, refresh] = await Promise.all([
        post(app, '/api/auth/logout/', { refresh: user.refresh }, user.access),
        post(app, '/api/auth/refresh/', { refresh: user.refresh })
      ])
      t.equal(logout.statusCode, 200)
      t.ok([200, 401].includes(refresh.statusCode), `the refresh ran before (200) or after (401): ${refresh.statusCode}`)
      t.equal((await post(app, '/api/auth/refresh/', { refresh: user.refresh })).statusCode, 401)
      if (refresh.statusCode === 200) t.equal((await get(app, '/api/protected-endpoint/', refresh.json().access)).statusCode, 401, 'its access token died too')
      t.equal((await get(app, '/api/protected-endpoint/', user.access)).statusCode, 401)
    })

    t.test('logout-all and a revoked session: refused at once', async (t) => {
      const user = await register(app)
      const other = await login(app, user.username)
      t.equal((await post(app, '/api/auth/logout/all/', {}, user.access)).statusCode, 200)
      for (const refresh of [user.refresh, other.refresh]) {
        const res = await post(app, '/api/auth/refresh/', { refresh })
        t.equal(res.statusCode, 401)
        t.same(res.json(), { detail: 'Token is blacklisted', code: 'token_not_valid' })
      }
    })

    t.test('cookie mode: the refresh cookie is left as it is', async (t) => {
      const user = await register(app)
      const res = await call(app, 'POST', '/api/auth/refresh/', {
        body: {},
        headers: { 'x-auth-mode': 'cookie', origin: 'http://127.0.0.1:8000', cookie: `refresh_token=${user.refresh}` }
      })
      t.equal(res.statusCode, 200)
      t.same(Object.keys(res.json()), ['access'])
      t.equal(res.headers['set-cookie'], undefined, 'no new cookie: the one it has stays valid')
    })
  })
}

for (const mode of MODES.filter((m) => m !== 'embedded')) {
  t.test(`two instances, API_PROFILE simplejwt and camelcase, on one database and token store (${mode})`, async (t) => {
    const { app: simple, variant } = await build(t, mode)
    const camel = await variant({ API_PROFILE: 'camelcase' })

    t.test('started through simplejwt, refreshed and logged out through camelcase', async (t) => {
      const user = await register(simple)
      const res = await post(camel, '/api/auth/refresh', { refreshToken: user.refresh })
      t.equal(res.statusCode, 200)
      t.equal((await get(simple, '/api/protected-endpoint/', res.json().token)).statusCode, 200, 'its access token works on the other instance')
      t.same((await post(camel, '/api/auth/logout', { refreshToken: user.refresh })).json(), { message: 'Sesión cerrada correctamente' })
      const after = await post(simple, '/api/token/refresh/', { refresh: user.refresh })
      t.equal(after.statusCode, 401)
      t.same(after.json(), { detail: 'Token is blacklisted', code: 'token_not_valid' })
    })

    t.test('started through camelcase, refreshed (rotating) and logged out through simplejwt', async (t) => {
      const user = await register(simple)
      const started = (await post(camel, '/api/auth/login', { email: user.email, password: user.password })).json()
      const rotated = await post(simple, '/api/auth/refresh/', { refresh: started.refreshToken })
      t.equal(rotated.statusCode, 200)
      t.same(Object.keys(rotated.json()).sort(), ['access', 'refresh'], 'this instance rotates')
      const { access, refresh } = rotated.json()
      t.equal((await post(camel, '/api/auth/refresh', { refreshToken: refresh })).statusCode, 200, 'the new token works on the other instance')
      t.equal((await post(simple, '/api/auth/logout/', { refresh }, access)).statusCode, 200)
      const after = await post(camel, '/api/auth/refresh', { refreshToken: refresh })
      t.equal(after.statusCode, 401)
      t.same(after.json(), { error: 'Refresh token inválido o expirado' })
    })

    t.test('the sessions list of either instance shows the same sessions', async (t) => {
      const user = await register(simple)
      await post(camel, '/api/auth/login', { email: user.email, password: user.password })
      const one = (await get(simple, '/api/auth/sessions/', user.access)).json()
      const two = (await get(camel, '/api/auth/sessions/', user.access)).json()
      t.equal(one.length, 2)
      t.same(two, one)
    })
  })
}
