// src/routes/auth/index.ts in every mode: register, login, logout, logout-all and the caller's /me.
import t from 'tap'
import { LivenessCachedStore } from '../../../plugins/app/token-store/index.js'
import { build, claims, get, MODES, PASSWORD, post, register, uniqueName } from '../../helper.js'

const NOT_PROVIDED = { detail: 'Authentication credentials were not provided.' }

for (const mode of MODES) {
  t.test(`register (${mode})`, async (t) => {
    const { app } = await build(t, mode)

    t.test('201 with the user and a token pair of a new session', async (t) => {
      const username = uniqueName('john')
      const res = await post(app, '/api/auth/register/', {
        username, email: `${username}@Example.COM`, password: PASSWORD, password2: PASSWORD, first_name: 'John', last_name: 'Doe'
      })
      t.equal(res.statusCode, 201)
      const body = res.json()
      t.match(body, { username, email: `${username}@example.com`, first_name: 'John', last_name: 'Doe' })
      t.match(body.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
      t.same(Object.keys(body).sort(), ['email', 'email_verified', 'first_name', 'id', 'last_name', 'tokens', 'username'])
      const access = claims(body.tokens.access)
      const refresh = claims(body.tokens.refresh)
      t.equal(access.token_type, 'access')
      t.equal(refresh.token_type, 'refresh')
      t.equal(access.user_id, body.id)
      t.equal(access.sid, refresh.sid)
      t.equal((access.exp as number) - (access.iat as number), 300)
      t.equal((refresh.exp as number) - (refresh.iat as number), 86400)
      // The tokens work at once.
      const me = await app.inject({ method: 'GET', url: '/api/auth/me', headers: { authorization: `Bearer ${body.tokens.access}` } })
      t.equal(me.statusCode, 200)
      t.equal(me.json().id, body.id)
      // The user can log in with the password.
      t.equal((await post(app, '/api/auth/login/', { username, password: PASSWORD })).statusCode, 200)
    })

    t.test('first and last name are optional and default to empty', async (t) => {
      const username = uniqueName()
      const res = await post(app, '/api/auth/register', { username, email: `${username}@example.com`, password: PASSWORD })
      t.equal(res.statusCode, 201)
      t.equal(res.json().first_name, '')
      t.equal(res.json().last_name, '')
    })

    t.test('missing fields: every one named at once', async (t) => {
      const res = await post(app, '/api/auth/register/', {})
      t.equal(res.statusCode, 400)
      t.same(res.json(), {
        username: ['This field is required.'],
        email: ['This field is required.'],
        password: ['This field is required.']
      })
    })

    t.test('taken username and email (ignoring case) and mismatched passwords, all at once', async (t) => {
      const existing = await register(app)
      const res = await post(app, '/api/auth/register/', {
        username: existing.username.toUpperCase(),
        email: existing.email.toUpperCase(),
        password: PASSWORD,
        password2: PASSWORD + 'x'
      })
      t.equal(res.statusCode, 400)
      t.same(res.json(), {
        username: ['A user with that username already exists.'],
        email: ['A user with that email already exists.'],
        password: ["Password fields didn't match."]
      })
    })

    t.test('a taken username is reported next to an invalid email', async (t) => {
      const existing = await register(app)
      const res = await post(app, '/api/auth/register/', { username: existing.username, email: 'not-an-email', password: PASSWORD })
      t.equal(res.statusCode, 400)
      t.same(res.json(), { username: ['A user with that username already exists.'], email: ['Enter a valid email address.'] })
    })

    t.test("Django's password validators and the 72-byte limit", async (t) => {
      const username = uniqueName('carol')
      const cases: Array<[string, string[]]> = [
        ['short1!', ['This password is too short. It must contain at least 8 characters.']],
        ['80417362951', ['This password is entirely numeric.']],
        ['password', ['This password is too common.']],
        [username, ['The password is too similar to the username.']],
        ['é'.repeat(37), ['This password is too long. It must contain at most 72 bytes.']]
      ]
      for (const [password, messages] of cases) {
        const res = await post(app, '/api/auth/register/', { username, email: `${username}@example.com`, password })
        t.equal(res.statusCode, 400, password)
        t.same(res.json().password, messages, password)
      }
      // Exactly 72 bytes is accepted.
      const ok = await post(app, '/api/auth/register/', { username, email: `${username}@example.com`, password: 'é'.repeat(36) })
      t.equal(ok.statusCode, 201)
      t.equal((await post(app, '/api/auth/login/', { username, password: 'é'.repeat(36) })).statusCode, 200)
    })

    t.test('invalid username, email, types and blanks', async (t) => {
      const res = await post(app, '/api/auth/register/', { username: 'bad name!', email: 'not-an-email', password: 123 })
      t.equal(res.statusCode, 400)
      t.same(res.json(), {
        username: ['Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.'],
        email: ['Enter a valid email address.'],
        password: ['Not a valid string.']
      })
      const blank = await post(app, '/api/auth/register/', { username: '  ', email: '', password: '' })
      t.same(blank.json(), {
        username: ['This field may not be blank.'],
        email: ['This field may not be blank.'],
        password: ['This field may not be blank.']
      })
      const long = await post(app, '/api/auth/register/', { username: 'a'.repeat(151), email: 'x@example.com', password: PASSWORD })
      t.same(long.json(), { username: ['Ensure this field has no more than 150 characters.'] })
      // 150 characters that lower-case to 300: refused as too long, not a database error.
      const grows = await post(app, '/api/auth/register/', { username: '\u0130'.repeat(150), email: 'x@example.com', password: PASSWORD })
      t.equal(grows.statusCode, 400)
      t.same(grows.json(), { username: ['Ensure this field has no more than 150 characters.'] })
      const nul = await post(app, '/api/auth/register/', { username: null, email: 'x@example.com', password: PASSWORD })
      t.same(nul.json(), { username: ['This field may not be null.'] })
    })

    t.test('a body that is not an object', async (t) => {
      const res = await app.inject({ method: 'POST', url: '/api/auth/register/', headers: { 'content-type': 'application/json' }, payload: '[1,2]' })
      t.equal(res.statusCode, 400)
      t.same(res.json(), { non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] })
    })

    t.test('the token store down: 503, and no user behind', async (t) => {
      const username = uniqueName('halfway')
      // The store behind the liveness cache, inside the outage guard, as a real client failure is.
      const store = app.tokenStore instanceof LivenessCachedStore ? app.tokenStore.behind : app.tokenStore
      const original = store.createSession
      store.createSession = async () => {
        // What either store's client throws when its server is gone.
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' })
      }
      t.teardown(() => {
        store.createSession = original
      })
      const res = await post(app, '/api/auth/register/', { username, email: `${username}@example.com`, password: PASSWORD })
      t.equal(res.statusCode, 503)
      t.same(res.json(), { detail: 'Service temporarily unavailable.' })
      t.equal(res.headers['retry-after'], '5')
      t.equal(await app.users.findByLogin(username), null, 'no user was written')
      store.createSession = original
      // The same registration goes through once the store is back.
      t.equal((await post(app, '/api/auth/register/', { username, email: `${username}@example.com`, password: PASSWORD })).statusCode, 201)
    })

    t.test("the user's insert failing after the session was made: no user, and the session is revoked", async (t) => {
      const username = uniqueName('late')
      const createSession = app.tokenStore.createSession.bind(app.tokenStore)
      const create = app.users.create.bind(app.users)
      let session: { userId: string; sid: string } | undefined
      app.tokenStore.createSession = async (s) => {
        session = s
        return createSession(s)
      }
      app.users.create = async () => {
        throw new Error('insert failed')
      }
      t.teardown(() => {
        app.tokenStore.createSession = createSession
        app.users.create = create
      })
      const res = await post(app, '/api/auth/register/', { username, email: `${username}@example.com`, password: PASSWORD })
      t.equal(res.statusCode, 500)
      t.equal(await app.users.findByLogin(username), null)
      t.ok(session, 'a session had been started')
      t.equal(await app.tokenStore.isSessionActive(session!), false, 'and was revoked')
    })

    t.test('two racing registrations of the same name: one 201, one 400', async (t) => {
      const username = uniqueName('race')
      const results = await Promise.all(
        [username, username.toUpperCase()].map((u, i) => post(app, '/api/auth/register/', { username: u, email: `${username}-${i}@example.com`, password: PASSWORD }))
      )
      t.same(results.map((r) => r.statusCode).sort(), [201, 400])
      const failed = results.find((r) => r.statusCode === 400)!
      t.same(failed.json(), { username: ['A user with that username already exists.'] })
      const found = await app.users.findByLogin(username)
      t.ok(found)
    })
  })

  t.test(`login (${mode})`, async (t) => {
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

  t.test(`logout, logout-all and me (${mode})`, async (t) => {
    const { app } = await build(t, mode)

    t.test('GET /me: the caller', async (t) => {
      const user = await register(app, { first_name: 'Zed' })
      const me = await get(app, '/api/auth/me', user.access)
      t.same(me.json(), { id: user.id, username: user.username, email: user.email, first_name: 'Zed', last_name: '', email_verified: false })
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

for (const mode of MODES) {
  t.test(`nobody can take a name that signs in as, or locks out, another account's e-mail (${mode})`, async (t) => {
    const { app } = await build(t, mode)
    const victim = await register(app, { email: `${uniqueName('victim')}@example.com` })
    const squatter = uniqueName('squatter')

    const refused = await post(app, '/api/auth/register/', { username: victim.email.toUpperCase(), email: `${squatter}@example.com`, password: PASSWORD })
    t.equal(refused.statusCode, 400, "another account's e-mail as a username is refused")
    t.same(refused.json(), { username: ['A username containing @ must be your own e-mail address.'] })
    const own = `${squatter}@example.com`
    t.equal((await post(app, '/api/auth/register/', { username: own.toUpperCase(), email: own, password: PASSWORD })).statusCode, 201, 'your own e-mail is a username you may take')
    t.equal((await post(app, '/api/auth/login/', { username: own, password: PASSWORD })).statusCode, 200)

    // A squatting username taken before the rule (written as the repository takes it) stays harmless.
    const legacyEmail = `${uniqueName('later')}@example.com`
    const legacy = await app.users.create({ username: legacyEmail.toUpperCase(), email: `${uniqueName('legacy')}@example.com`, passwordHash: (await app.users.findById(victim.id))!.passwordHash })
    t.equal((await post(app, '/api/auth/login/', { username: legacyEmail, password: PASSWORD })).json().user?.id, legacy.id, 'it signs its owner in while no account has that e-mail')
    const owner = await register(app, { email: legacyEmail, password: 'An0ther-Passphrase!' })
    for (const url of ['/api/auth/login/', '/api/token/']) {
      const mine = await post(app, url, { username: legacyEmail, password: 'An0ther-Passphrase!' })
      t.equal(mine.statusCode, 200, `${url}: the e-mail's owner signs in with it`)
      if (url === '/api/auth/login/') t.equal(mine.json().user.id, owner.id)
      t.equal((await post(app, url, { username: legacyEmail, password: PASSWORD })).statusCode, 401, `${url}: the squatter's password does not`)
    }
  })
}
