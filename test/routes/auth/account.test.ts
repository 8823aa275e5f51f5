// The caller's account: names (PATCH /me), password change and deletion, in both modes.
import t from 'tap'
import { build, call, get, login, MODES, PASSWORD, post, register } from '../../helper.js'

const NEW_PASSWORD = 'An0ther-Passphrase!'
const change = (old_password: string, new_password1 = NEW_PASSWORD, new_password2 = new_password1) => ({ old_password, new_password1, new_password2 })

for (const mode of MODES) {
  t.test(`account (${mode})`, async (t) => {
    const { app } = await build(t, mode)

    t.test('PATCH /me: the names change, other fields are ignored', async (t) => {
      const user = await register(app, { first_name: 'Ann' })
      const res = await call(app, 'PATCH', '/api/auth/me/', {
        access: user.access,
        body: { first_name: '  Anna ', last_name: 'Lee', username: 'hijack', email: 'x@example.com', email_verified: true, id: 'x' }
      })
      t.equal(res.statusCode, 200)
      t.equal(res.headers['cache-control'], 'no-store')
      const expected = { id: user.id, username: user.username, email: user.email, first_name: 'Anna', last_name: 'Lee', email_verified: false }
      t.same(res.json(), expected)
      t.same((await get(app, '/api/auth/me/', user.access)).json(), expected, 'stored')
      // Only one of them: the other stays.
      t.same((await call(app, 'PATCH', '/api/auth/me', { access: user.access, body: { last_name: '' } })).json(), { ...expected, last_name: '' })
      t.same((await call(app, 'PATCH', '/api/auth/me/', { access: user.access, body: {} })).json(), { ...expected, last_name: '' })
    })

    t.test('PATCH /me: 400 field errors; 401 without a valid token', async (t) => {
      const user = await register(app, { first_name: 'Ann' })
      const cases: Array<[unknown, Record<string, string[]>]> = [
        [{ first_name: 'x'.repeat(151) }, { first_name: ['Ensure this field has no more than 150 characters.'] }],
        [{ last_name: 5, first_name: null }, { last_name: ['Not a valid string.'], first_name: ['This field may not be null.'] }],
        [{ first_name: 'a\u0000b' }, { first_name: ['Null characters are not allowed.'] }],
        [{ last_name: '\ud800' }, { last_name: ['Surrogate characters are not allowed: U+D800.'] }]
      ]
      for (const [body, errors] of cases) {
        const res = await call(app, 'PATCH', '/api/auth/me/', { access: user.access, body })
        t.equal(res.statusCode, 400, JSON.stringify(body))
        t.same(res.json(), errors)
      }
      t.equal((await get(app, '/api/auth/me/', user.access)).json().first_name, 'Ann', 'nothing changed')
      t.equal((await call(app, 'PATCH', '/api/auth/me/', { body: { first_name: 'x' } })).statusCode, 401)
      t.equal((await call(app, 'PATCH', '/api/auth/me/', { access: user.refresh, body: { first_name: 'x' } })).statusCode, 401)
    })

    t.test("password change: saved, every other session revoked, the caller's kept", async (t) => {
      const user = await register(app)
      const other = await login(app, user.username)
      const res = await post(app, '/api/auth/password/change/', change(PASSWORD), user.access)
      t.equal(res.statusCode, 200)
      t.same(res.json(), { detail: 'New password has been saved.' })
      t.equal((await get(app, '/api/protected-endpoint/', user.access)).statusCode, 200, "the caller's access token works")
      t.equal((await post(app, '/api/token/refresh/', { refresh: user.refresh })).statusCode, 200, 'and its refresh token')
      t.equal((await get(app, '/api/protected-endpoint/', other.access)).statusCode, 401, 'the other session is revoked')
      t.same((await post(app, '/api/token/refresh/', { refresh: other.refresh })).json(), { detail: 'Token is blacklisted', code: 'token_not_valid' })
      t.equal((await post(app, '/api/auth/login/', { username: user.username, password: PASSWORD })).statusCode, 401, 'the old password is gone')
      t.equal((await post(app, '/api/auth/login/', { username: user.username, password: NEW_PASSWORD })).statusCode, 200)
    })

    t.test('password change: 400 for a wrong old password, a mismatch, a refused password; nothing changes', async (t) => {
      const user = await register(app)
      const other = await login(app, user.username)
      const cases: Array<[unknown, Record<string, string[]>]> = [
        [change('wrong-password'), { old_password: ['Your old password was entered incorrectly. Please enter it again.'] }],
        [change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD + 'x'), { new_password2: ['The two password fields didn\u2019t match.'] }],
        [change(PASSWORD, 'password'), { new_password2: ['This password is too common.'] }],
        [change(PASSWORD, '90417385266'), { new_password2: ['This password is entirely numeric.'] }],
        [change(PASSWORD, user.username + '1'), { new_password2: ['The password is too similar to the username.'] }],
        [change(PASSWORD, 'é'.repeat(37)), { new_password2: ['This password is too long. It must contain at most 72 bytes.'] }],
        [{ old_password: PASSWORD }, { new_password1: ['This field is required.'], new_password2: ['This field is required.'] }],
        [{ old_password: '', new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD }, { old_password: ['This field may not be blank.'] }]
      ]
      for (const [body, errors] of cases) {
        const res = await post(app, '/api/auth/password/change/', body, user.access)
        t.equal(res.statusCode, 400, JSON.stringify(body))
        t.same(res.json(), errors)
      }
      t.equal((await get(app, '/api/protected-endpoint/', other.access)).statusCode, 200, 'no session was revoked')
      t.equal((await post(app, '/api/auth/login/', { username: user.username, password: PASSWORD })).statusCode, 200, 'the password is unchanged')
      t.equal((await post(app, '/api/auth/password/change/', change(PASSWORD))).statusCode, 401, 'needs an access token')
    })

    t.test('DELETE /me: 400 for a wrong password; then 204, every session gone, the names free again', async (t) => {
      const user = await register(app)
      const other = await login(app, user.username)
      const wrong = await call(app, 'DELETE', '/api/auth/me/', { access: user.access, body: { password: 'not-it' } })
      t.equal(wrong.statusCode, 400)
      t.same(wrong.json(), { password: ['Your password was entered incorrectly.'] })
      const missing = await call(app, 'DELETE', '/api/auth/me/', { access: user.access, body: {} })
      t.same(missing.json(), { password: ['This field is required.'] })
      t.equal((await get(app, '/api/auth/me/', user.access)).statusCode, 200, 'still there')

      const res = await call(app, 'DELETE', '/api/auth/me/', { access: user.access, body: { password: PASSWORD } })
      t.equal(res.statusCode, 204)
      t.equal(res.body, '')
      for (const s of [user, other]) {
        t.equal((await get(app, '/api/auth/me/', s.access)).statusCode, 401)
        t.equal((await post(app, '/api/token/refresh/', { refresh: s.refresh })).statusCode, 401)
      }
      t.equal(await app.users.findById(user.id), null, 'the row is gone')
      t.equal((await post(app, '/api/auth/login/', { username: user.username, password: PASSWORD })).statusCode, 401)
      const again = await post(app, '/api/auth/register/', { username: user.username.toUpperCase(), email: user.email, password: PASSWORD })
      t.equal(again.statusCode, 201, 'the username and email can be registered again')
      t.not(again.json().id, user.id)
      t.equal((await call(app, 'DELETE', '/api/auth/me/', { access: user.access, body: { password: PASSWORD } })).statusCode, 401)
    })
  })
}

t.test('a wrong old password or deletion password counts as a failed login of the account', async (t) => {
  const { app } = await build(t, 'embedded', { RATE_LIMIT_ENABLED: 'true', LOGIN_FAILURES_PER_USER_IP: '2', LOGIN_ATTEMPTS_PER_IP: '100' })
  const user = await register(app)
  t.equal((await post(app, '/api/auth/password/change/', change('wrong-1'), user.access)).statusCode, 400)
  t.equal((await call(app, 'DELETE', '/api/auth/me/', { access: user.access, body: { password: 'wrong-2' } })).statusCode, 400)
  const throttled = await post(app, '/api/auth/password/change/', change(PASSWORD), user.access)
  t.equal(throttled.statusCode, 429, 'even the right password now waits, as a login would')
  t.match(throttled.json().detail, /^Request was throttled\. Expected available in \d+ seconds\.$/)
  t.ok(Number(throttled.headers['retry-after']) > 0)
  t.equal((await post(app, '/api/auth/login/', { username: user.username, password: PASSWORD })).statusCode, 429, 'login from this IP too')
  t.equal((await call(app, 'DELETE', '/api/auth/me/', { access: user.access, body: { password: PASSWORD } })).statusCode, 429)
  t.equal((await get(app, '/api/auth/me/', user.access)).statusCode, 200, 'nothing was deleted')
})

t.test('two password changes racing with the same old password: one wins', async (t) => {
  const { app } = await build(t, 'postgres')
  const user = await register(app)
  const results = await Promise.all(
    ['Fir5t-Passphrase!', 'Sec0nd-Passphrase!', 'Th1rd-Passphrase!'].map((p) => post(app, '/api/auth/password/change/', change(PASSWORD, p), user.access))
  )
  t.same(results.map((r) => r.statusCode).sort(), [200, 400, 400])
  const winner = ['Fir5t-Passphrase!', 'Sec0nd-Passphrase!', 'Th1rd-Passphrase!'][results.findIndex((r) => r.statusCode === 200)]!
  t.equal((await post(app, '/api/auth/login/', { username: user.username, password: winner })).statusCode, 200)
})
