import t from 'tap'
import { build, claims, MODES, PASSWORD, post, register, uniqueName } from '../helper.js'

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
      const original = app.tokenStore.createSession
      app.tokenStore.createSession = async () => {
        // What either store's client throws when its server is gone.
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' })
      }
      t.teardown(() => {
        app.tokenStore.createSession = original
      })
      const res = await post(app, '/api/auth/register/', { username, email: `${username}@example.com`, password: PASSWORD })
      t.equal(res.statusCode, 503)
      t.same(res.json(), { detail: 'Service temporarily unavailable.' })
      t.equal(res.headers['retry-after'], '5')
      t.equal(await app.users.findByLogin(username), null, 'no user was written')
      app.tokenStore.createSession = original
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
}
