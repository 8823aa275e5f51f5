// src/routes/token/index.ts in every mode: obtaining a pair and verifying a token.
import t from 'tap'
import { build, get, MODES, PASSWORD, post, register } from '../../helper.js'

for (const mode of MODES) {
  t.test(`token obtain and verify (${mode})`, async (t) => {
    const { app } = await build(t, mode)
    const user = await register(app)

    t.test('POST /api/token/ (obtain pair)', async (t) => {
      const ok = await post(app, '/api/token/', { username: user.username, password: PASSWORD })
      t.equal(ok.statusCode, 200)
      t.same(Object.keys(ok.json()).sort(), ['access', 'refresh'])
      const protectedRes = await get(app, '/api/protected-endpoint/', ok.json().access)
      t.equal(protectedRes.statusCode, 200)
      const bad = await post(app, '/api/token', { username: user.username, password: 'nope-nope' })
      t.equal(bad.statusCode, 401)
      t.same(bad.json(), { detail: 'No active account found with the given credentials' })
      const missing = await post(app, '/api/token/', { username: user.username })
      t.equal(missing.statusCode, 400)
      t.same(missing.json(), { password: ['This field is required.'] })
    })

    t.test('POST /api/token/verify/', async (t) => {
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
  })
}
