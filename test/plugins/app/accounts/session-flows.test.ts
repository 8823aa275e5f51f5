// Login against the changes that must end it (issue 17): a login whose password check began
// before a password reset, a password change or an account deletion never keeps a live session,
// on every store and across instances, and a login's re-hash never undoes a reset. Each race is
// placed, not hoped for: one side is held at a hook (test/support/hold.ts) while the other runs.
import bcrypt from 'bcryptjs'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { createLinks } from '../../../../plugins/app/accounts/links.js'
import { build, call, get, MODES, PASSWORD, post, register, type Registered } from '../../../helper.js'
import { hold } from '../../../support/hold.js'

const NEW_PASSWORD = 'An0ther-Passphrase!'

type Change = 'reset' | 'change' | 'delete'
const CHANGES: Change[] = ['reset', 'change', 'delete']

/** Runs one change of the user's password (or deletes the account) on `app`, as a client would. */
async function change (app: FastifyInstance, kind: Change, user: Registered): Promise<LightMyRequestResponse> {
  switch (kind) {
    case 'reset': {
      const found = (await app.users.findById(user.id))!
      const { email } = app.config
      const links = createLinks({ secret: app.config.jwt.signingKey, resetTimeout: email.resetTimeout, verifyTimeout: email.verifyTimeout })
      return post(app, '/api/auth/password/reset/confirm/', { uid: links.uid(user.id), token: links.resetToken(found), new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD })
    }
    case 'change':
      return post(app, '/api/auth/password/change/', { old_password: PASSWORD, new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD }, user.access)
    case 'delete':
      return call(app, 'DELETE', '/api/auth/me/', { body: { password: PASSWORD }, access: user.access })
  }
}

const loginWith = (app: FastifyInstance, username: string, password = PASSWORD) => post(app, '/api/auth/login/', { username, password })

/** Whether a login's tokens still work anywhere: the protected route, or a refresh. */
async function alive (app: FastifyInstance, res: LightMyRequestResponse): Promise<boolean> {
  if (res.statusCode !== 200) return false
  const { access, refresh } = res.json() as { access: string; refresh: string }
  const protectedOk = (await get(app, '/api/protected-endpoint/', access)).statusCode === 200
  const refreshOk = (await post(app, '/api/token/refresh/', { refresh })).statusCode === 200
  return protectedOk || refreshOk
}

for (const mode of MODES) {
  t.test(`a login in flight never outlives a password change, reset or deletion (${mode})`, async (t) => {
    const setup = await build(t, mode)
    // Across instances where there are two: the login on one, the change on the other.
    const loginApp = setup.app
    const changeApp = mode === 'embedded' ? setup.app : await setup.twin()

    for (const kind of CHANGES) {
      t.test(`${kind}: the login checked the old password, then the change ran whole, then the login went on`, async (t) => {
        const user = await register(changeApp)
        const held = hold(loginApp.tokenStore, 'createSession')
        const login = loginWith(loginApp, user.username)
        await held.reached
        t.equal((await change(changeApp, kind, user)).statusCode, kind === 'delete' ? 204 : 200, `the ${kind} answers`)
        held.release()
        const res = await login
        t.equal(res.statusCode, 401, 'the login fails')
        t.notOk(await alive(loginApp, res), 'and leaves no live session')
      })

      t.test(`${kind}: the change revoked the sessions, then a whole login ran before its write`, async (t) => {
        const user = await register(changeApp)
        const held = hold(changeApp.users, kind === 'delete' ? 'delete' : 'replacePassword')
        const pending = change(changeApp, kind, user)
        await held.reached
        const res = await loginWith(loginApp, user.username)
        t.equal(res.statusCode, 200, 'the login checked a password that was still the account\'s')
        held.release()
        t.equal((await pending).statusCode, kind === 'delete' ? 204 : 200, `the ${kind} answers`)
        t.notOk(await alive(loginApp, res), "the login's session died with the change")
        const again = await loginWith(loginApp, user.username)
        t.equal(again.statusCode, 401, 'the old password is refused now')
      })
    }
  })
}

t.test("a login's re-hash never undoes a reset (users hashed at a lower cost than configured)", async (t) => {
  const { app } = await build(t, 'embedded', { BCRYPT_COST: '5' })
  const registered = await register(app)
  // As if stored before BCRYPT_COST was raised: the next login re-hashes the password.
  const oldHash = bcrypt.hashSync(PASSWORD, 4)
  t.ok(await app.users.replacePassword(registered.id, (await app.users.findById(registered.id))!.passwordHash, oldHash))
  const held = hold(app.users, 'recordLogin')
  const login = loginWith(app, registered.username)
  await held.reached
  t.equal((await change(app, 'reset', registered)).statusCode, 200, 'the reset answers')
  held.release()
  t.equal((await login).statusCode, 401, 'the login that checked the old password fails')
  t.equal((await loginWith(app, registered.username, PASSWORD)).statusCode, 401, 'the old password stays refused')
  t.equal((await loginWith(app, registered.username, NEW_PASSWORD)).statusCode, 200, 'the new one works')
})

t.test('two logins re-hashing the same password at once both stand', async (t) => {
  const { app } = await build(t, 'embedded', { BCRYPT_COST: '5' })
  const registered = await register(app)
  t.ok(await app.users.replacePassword(registered.id, (await app.users.findById(registered.id))!.passwordHash, bcrypt.hashSync(PASSWORD, 4)))
  const held = hold(app.users, 'recordLogin')
  const first = loginWith(app, registered.username)
  await held.reached
  const second = await loginWith(app, registered.username)
  t.equal(second.statusCode, 200, 'the second login re-hashes the password first')
  held.release()
  const res = await first
  t.equal(res.statusCode, 200, 'the first finds the password still taken by the newer hash')
  t.ok(await alive(app, res), 'and its session lives')
})
