// The accounts plugin as the routes call it: one call per flow. The routes' HTTP mapping is
// tested in test/routes/auth/.
import t from 'tap'
import { ApiError } from '../../../../plugins/app/errors.js'
import { build, PASSWORD, register, uniqueName } from '../../../helper.js'
import type { SignedIn } from '../../../../plugins/app/accounts/index.js'

const CLIENT = { ip: '192.0.2.1', userAgent: 'test', requestId: 'test-1' }

t.test('accounts (embedded)', async (t) => {
  const { app } = await build(t, 'embedded')
  const { accounts } = app
  const taken = await register(app, { first_name: 'Ann' })
  const fresh = uniqueName()
  const input = (fields: Partial<Record<string, string>> = {}) => ({
    username: fresh,
    email: `${fresh}@example.com`,
    password: PASSWORD,
    first_name: '',
    last_name: '',
    ...fields
  })

  t.test('registrationErrors: every rule, field by field; skip leaves refused fields alone', async (t) => {
    t.same(await accounts.registrationErrors(input()), {}, 'a valid registration')
    const bad = input({ username: taken.username.toUpperCase(), email: taken.email, password: 'password' })
    t.same(await accounts.registrationErrors(bad), {
      username: ['A user with that username already exists.'],
      email: ['A user with that email already exists.'],
      password: ['This password is too common.']
    })
    t.same(await accounts.registrationErrors(bad, ['username', 'password']), { email: ['A user with that email already exists.'] })
    t.same(await accounts.registrationErrors(bad, ['username', 'email', 'password']), {})
    // İ lower-cases to two code units: 150 of them fit the field, not the case-folded column.
    t.same(await accounts.registrationErrors(input({ username: 'İ'.repeat(150) })), {
      username: ['Ensure this field has no more than 150 characters.']
    })
    t.same(await accounts.registrationErrors(input({ password: fresh + '1' })), { password: ['The password is too similar to the username.'] })
  })

  t.test('register: the user and a session, or a 400 with the same messages and no user', async (t) => {
    const made = await accounts.register(input({ first_name: 'Bo' }), CLIENT)
    t.match(made.user, { username: fresh, email: `${fresh}@example.com`, first_name: 'Bo', last_name: '' })
    t.equal(await accounts.verify(made.tokens!.access), true)
    t.equal(await accounts.verify(made.tokens!.refresh), true)
    const again = await accounts.register(input(), CLIENT).catch((err: unknown) => err)
    t.ok(again instanceof ApiError)
    t.equal((again as ApiError).statusCode, 400)
    t.same((again as ApiError).body, {
      username: ['A user with that username already exists.'],
      email: ['A user with that email already exists.']
    })
  })

  t.test('login: a session for the right credentials, null for anything else', async (t) => {
    const ok = (await accounts.login({ login: taken.email.toUpperCase(), password: PASSWORD, ...CLIENT })) as SignedIn | null
    t.equal(ok?.user.id, taken.id)
    t.equal(ok?.user.first_name, 'Ann')
    t.equal(await accounts.verify(ok!.tokens.access), true)
    t.equal(await accounts.login({ login: taken.username, password: 'wrong-password', ...CLIENT }), null)
    t.equal(await accounts.login({ login: 'nobody-' + taken.username, password: PASSWORD, ...CLIENT }), null)
  })

  t.test('me: the public user; a 401 once the user is gone', async (t) => {
    t.same(await accounts.me(taken.id), { id: taken.id, username: taken.username, email: taken.email, first_name: 'Ann', last_name: '', email_verified: false })
    await app.users.deactivate(taken.id)
    const err = await accounts.me(taken.id).catch((e: unknown) => e)
    t.equal((err as ApiError).statusCode, 401)
    t.equal(((await accounts.me('00000000-0000-4000-8000-000000000000').catch((e: unknown) => e)) as ApiError).statusCode, 401)
  })
})
