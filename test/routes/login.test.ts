import t from 'tap'
import { build, claims, get, MODES, PASSWORD, post, register } from '../helper.js'

for (const mode of MODES) {
  t.test(`login and token obtain (${mode})`, async (t) => {
    const { app } = await build(t, mode)
    const user = await register(app, { first_name: 'Ann', last_name: 'Lee' })

    t.test('200 with tokens and the user, by username or email, ignoring case', async (t) => {
      for (const login of [user.username, user.username.toUpperCase(), user.email, user.email.toUpperCase()]) {
        const res = await post(app, '/api/auth/login/', { username: login, password: PASSWORD })
        t.equal(res.statusCode, 200, login)
        const body = res.json()
        t.same(body.user, { id: user.id, username: user.username, email: user.email, first_name: 'Ann', last_name: 'Lee', email_verified: false })
        t.equal(claims(body.access).user_id, user.id)
        t.equal(claims(body.refresh).token_type, 'refresh')
      }
    })

    t.test('every login starts a session of its own', async (t) => {
      const a = (await post(app, '/api/auth/login', { username: user.username, password: PASSWORD })).json()
      const b = (await post(app, '/api/auth/login', { username: user.username, password: PASSWORD })).json()
      t.not(claims(a.refresh).sid, claims(b.refresh).sid)
      t.not(claims(a.refresh).jti, claims(b.refresh).jti)
    })

    t.test('last login is recorded', async (t) => {
      const found = await app.users.findById(user.id)
      t.ok(found?.lastLogin instanceof Date)
    })

    t.test('401 with one body for a wrong password, an unknown user and an inactive user', async (t) => {
      const wrong = await post(app, '/api/auth/login/', { username: user.username, password: 'wrong-password' })
      const unknown = await post(app, '/api/auth/login/', { username: 'nobody-' + user.username, password: PASSWORD })
      const inactive = await register(app)
      await app.users.deactivate(inactive.id)
      const deactivated = await post(app, '/api/auth/login/', { username: inactive.username, password: PASSWORD })
      for (const res of [wrong, unknown, deactivated]) {
        t.equal(res.statusCode, 401)
        t.same(res.json(), { detail: 'Invalid credentials' })
      }
    })

    t.test('a password over 72 bytes never matches the 72-byte one bcrypt would truncate it to', async (t) => {
      const exact = 'Zq9!long-passphrase-'.repeat(4).slice(0, 72)
      t.equal(Buffer.byteLength(exact), 72)
      const owner = await register(app, { password: exact })
      t.equal((await post(app, '/api/auth/login/', { username: owner.username, password: exact })).statusCode, 200, 'the 72-byte password itself')
      for (const suffix of ['y', 'é', '-and-more']) {
        const res = await post(app, '/api/auth/login/', { username: owner.username, password: exact + suffix })
        t.equal(res.statusCode, 401, `plus ${JSON.stringify(suffix)}`)
        t.same(res.json(), { detail: 'Invalid credentials' })
      }
      const obtain = await post(app, '/api/token/', { username: owner.username, password: exact + 'y' })
      t.equal(obtain.statusCode, 401, 'token obtain too')
    })

    t.test('400 on missing fields', async (t) => {
      const res = await post(app, '/api/auth/login/', {})
      t.equal(res.statusCode, 400)
      t.same(res.json(), { username: ['This field is required.'], password: ['This field is required.'] })
      const res2 = await post(app, '/api/auth/login/', { password: 'x' })
      t.same(res2.json(), { username: ['This field is required.'] })
    })

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

    t.test('a hash made at another cost is upgraded on login', async (t) => {
      const other = await register(app)
      const before = (await app.users.findById(other.id))!.passwordHash
      t.match(before, /^\$2[aby]\$04\$/)
      const { app: app2 } = await build(t, mode, { BCRYPT_COST: '5' })
      // app2 has a database of its own: the user is copied there with its cost-4 hash.
      await app2.users.create({ username: other.username, email: other.email, passwordHash: before })
      const res = await post(app2, '/api/auth/login/', { username: other.username, password: PASSWORD })
      t.equal(res.statusCode, 200)
      const after = (await app2.users.findByLogin(other.username))!.passwordHash
      t.match(after, /^\$2[aby]\$05\$/)
      t.equal((await post(app2, '/api/auth/login/', { username: other.username, password: PASSWORD })).statusCode, 200)
    })
  })
}
