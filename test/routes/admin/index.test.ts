// The admin API (/api/admin/): who may use it (staff, read from the database on every request;
// superuser-only fields and targets; ADMIN_REQUIRE_MFA), DRF's pagination, search, filters and
// ordering, and each action on a user: change, deactivate (every session at once, on another
// instance too), reactivate, delete, sessions, logout-all, password reset mail, second-factor reset;
// each audited with the acting admin's id.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { Secret, TOTP } from 'otpauth'
import { build, call, get, login, PASSWORD, post, register, uniqueName, type Registered } from '../../helper.js'
import { startSmtp } from '../../support/smtp.js'
import { hold } from '../../support/hold.js'
import { TOTP_PARAMS } from '../../../plugins/app/mfa/index.js'

const DENIED = { detail: 'You do not have permission to perform this action.' }
const MFA_NEEDED = { detail: 'Two-factor authentication is required for this action.' }
const NOT_FOUND = { detail: 'Not found.' }
const INVALID_CREDENTIALS = { detail: 'Invalid credentials' }

/** A registered user made staff (or a superuser) in the database, with a fresh token. */
async function staff (app: FastifyInstance, superuser = false, fields: Partial<Record<string, string>> = {}): Promise<Registered> {
  const user = await register(app, fields)
  await app.users.adminUpdate(user.id, { isStaff: true, isSuperuser: superuser })
  return user
}

const patch = (app: FastifyInstance, id: string, body: unknown, access: string) => call(app, 'PATCH', `/api/admin/users/${id}/`, { body, access })

for (const mode of ['embedded', 'postgres'] as const) {
  t.test(`admin API (${mode})`, async (t) => {
    const smtp = await startSmtp(t)
    const built = await build(t, mode, { SMTP_URL: smtp.url, LOG_LEVEL: 'info' })
    const { app } = built
    const root = await staff(app, true)
    const admin = await staff(app)

    t.test('who may use it: staff and superusers; not others, not without a token; a demoted admin at the very next request', async (t) => {
      const plain = await register(app)
      t.equal((await get(app, '/api/admin/users/')).statusCode, 401)
      const refused = await get(app, '/api/admin/users/', plain.access)
      t.equal(refused.statusCode, 403)
      t.same(refused.json(), DENIED)
      // Before the body is validated: nothing is learnt about what it should be.
      const bad = await patch(app, plain.id, { is_active: 'no' }, plain.access)
      t.equal(bad.statusCode, 403)
      t.equal((await get(app, '/api/admin/users/', admin.access)).statusCode, 200)
      t.equal((await get(app, '/api/admin/users/', root.access)).statusCode, 200)

      const demoted = await staff(app)
      t.equal((await get(app, `/api/admin/users/${plain.id}/`, demoted.access)).statusCode, 200)
      t.equal((await patch(app, demoted.id, { is_staff: false }, root.access)).statusCode, 200)
      t.same((await get(app, `/api/admin/users/${plain.id}/`, demoted.access)).json(), DENIED, 'the same token, refused at once')
    })

    t.test('a user as the admin API shows it; an unknown id is a 404', async (t) => {
      const user = await register(app, { first_name: 'Ada', last_name: 'Lovelace' })
      const res = await get(app, `/api/admin/users/${user.id}/`, admin.access)
      t.equal(res.statusCode, 200)
      const body = res.json()
      t.match(body, {
        id: user.id,
        username: user.username,
        email: user.email,
        first_name: 'Ada',
        last_name: 'Lovelace',
        email_verified: false,
        is_active: true,
        is_staff: false,
        is_superuser: false,
        last_login: null,
        mfa_enabled: false
      })
      t.ok(Date.parse(body.date_joined) > Date.now() - 60_000)
      await login(app, user.username)
      t.ok(Date.parse((await get(app, `/api/admin/users/${user.id}/`, admin.access)).json().last_login) > Date.now() - 60_000)
      for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
        const missing = await get(app, `/api/admin/users/${id}/`, admin.access)
        t.equal(missing.statusCode, 404, id)
        t.same(missing.json(), NOT_FOUND)
      }
    })

    t.test('the list: pagination boundaries, search by each field in any case, filters, ordering', async (t) => {
      const tag = uniqueName('pg').replace(/_/g, '')
      const users: Registered[] = []
      for (let i = 0; i < 5; i++) users.push(await register(app, { username: `${tag}_u${i}`, first_name: i === 3 ? 'Zebulon' : `First${tag}`, last_name: `Last${i}` }))
      const list = async (query: string) => {
        const res = await get(app, `/api/admin/users/?${query}`, admin.access)
        t.equal(res.statusCode, 200, query)
        return res.json() as { count: number; next: string | null; previous: string | null; results: Array<Record<string, unknown>> }
      }

      const first = await list(`search=${tag}&page_size=2`)
      t.equal(first.count, 5)
      t.same(first.results.map((u) => u.username), [`${tag}_u0`, `${tag}_u1`])
      t.equal(first.previous, null)
      t.equal(first.next, `http://localhost/api/admin/users/?page=2&page_size=2&search=${tag}`)
      const second = await list(`search=${tag}&page_size=2&page=2`)
      t.same(second.results.map((u) => u.username), [`${tag}_u2`, `${tag}_u3`])
      t.equal(second.previous, `http://localhost/api/admin/users/?page_size=2&search=${tag}`, 'page 1 has no page parameter')
      t.equal(second.next, `http://localhost/api/admin/users/?page=3&page_size=2&search=${tag}`)
      const third = await list(`search=${tag}&page_size=2&page=3`)
      t.same(third.results.map((u) => u.username), [`${tag}_u4`])
      t.equal(third.next, null)
      t.same((await list(`search=${tag}&page_size=2&page=last`)).results.map((u) => u.username), [`${tag}_u4`])
      for (const page of ['4', '0', '-1', 'x', '99999999999999999999']) {
        const res = await get(app, `/api/admin/users/?search=${tag}&page_size=2&page=${page}`, admin.access)
        t.equal(res.statusCode, 404, `page ${page}`)
        t.same(res.json(), { detail: 'Invalid page.' })
      }
      t.equal((await list(`search=${tag}&page_size=1000`)).results.length, 5, 'page_size over 100 is cut to 100')
      t.equal((await list(`search=${tag}&page_size=abc`)).results.length, 5, 'an invalid page_size is the default')
      const empty = await list(`search=nobody${tag}`)
      t.same(empty, { count: 0, next: null, previous: null, results: [] }, 'page 1 of nothing is an empty page, not a 404')

      // Each field, in any case.
      t.equal((await list(`search=${tag.toUpperCase()}_U1`)).count, 1, 'username')
      t.equal((await list(`search=${encodeURIComponent(`${tag}_u2@EXAMPLE.com`)}`)).count, 1, 'e-mail')
      t.equal((await list(`search=zEbUlOn+${tag}`)).count, 1, 'first name, and every word must match')
      t.equal((await list(`search=${tag}+LAST4`)).count, 1, 'last name')
      t.equal((await list(`search=${tag},last4`)).count, 1, 'commas separate words too')
      t.equal((await list(`search=${tag}+nobody`)).count, 0)
      t.equal((await list(`search=${encodeURIComponent(`${tag}%`)}`)).count, 0, "LIKE's own characters are literal")
      t.equal((await list(`search=${encodeURIComponent(`${tag}_u_`)}`)).count, 0, "LIKE's own characters are literal")

      // Filters.
      await app.users.adminUpdate(users[1]!.id, { isActive: false })
      await app.users.adminUpdate(users[2]!.id, { isStaff: true })
      t.same((await list(`search=${tag}&is_active=false`)).results.map((u) => u.username), [`${tag}_u1`])
      t.equal((await list(`search=${tag}&is_active=true`)).count, 4)
      t.same((await list(`search=${tag}&is_staff=True`)).results.map((u) => u.username), [`${tag}_u2`])
      t.equal((await list(`search=${tag}&is_staff=0`)).count, 4)
      const badFilter = await get(app, '/api/admin/users/?is_staff=maybe', admin.access)
      t.equal(badFilter.statusCode, 400)
      t.same(Object.keys(badFilter.json()), ['is_staff'])

      // Ordering.
      const names = async (ordering: string) => (await list(`search=${tag}&ordering=${ordering}`)).results.map((u) => u.username)
      const ascending = users.map((u) => u.username)
      t.same(await names('username'), ascending)
      t.same(await names('-username'), [...ascending].reverse())
      t.same(await names('date_joined'), ascending, 'registered in this order')
      t.same(await names('-date_joined'), [...ascending].reverse())
      t.same(await names('nonsense'), ascending, 'an unknown ordering is ignored')
      await login(app, users[4]!.username)
      await login(app, users[0]!.username)
      const byLogin = await names('-last_login')
      // PostgreSQL puts the never-logged-in (NULL) first when descending.
      t.same(byLogin.slice(-2), [`${tag}_u0`, `${tag}_u4`], 'latest login first among those who logged in')
      t.same((await names('last_login')).slice(0, 2), [`${tag}_u4`, `${tag}_u0`])
    })

    t.test('changes: names and e-mail; a taken e-mail is a 400; staff and superuser only by a superuser; a superuser only by a superuser', async (t) => {
      const user = await register(app)
      await app.users.verifyEmail(user.id, user.email)
      const changed = await patch(app, user.id, { first_name: '  Grace ', last_name: 'Hopper', email: `new-${user.email}`, unknown: 1 }, admin.access)
      t.equal(changed.statusCode, 200)
      t.match(changed.json(), { first_name: 'Grace', last_name: 'Hopper', email: `new-${user.email}`, email_verified: false })
      t.match((await patch(app, user.id, { email_verified: true }, admin.access)).json(), { email_verified: true })
      const other = await register(app)
      const taken = await patch(app, user.id, { email: other.email.toUpperCase() }, admin.access)
      t.equal(taken.statusCode, 400)
      t.same(taken.json(), { email: ['A user with that email already exists.'] })
      const invalid = await patch(app, user.id, { email: 'nope', is_active: 'yes' }, admin.access)
      t.equal(invalid.statusCode, 400)
      t.same(Object.keys(invalid.json()).sort(), ['email', 'is_active'])

      t.same((await patch(app, user.id, { is_staff: true }, admin.access)).json(), DENIED)
      t.same((await patch(app, user.id, { is_superuser: true }, admin.access)).json(), DENIED)
      t.same((await patch(app, root.id, { first_name: 'x' }, admin.access)).json(), DENIED, "staff cannot change a superuser's account")
      t.same((await post(app, `/api/admin/users/${root.id}/password-reset/`, {}, admin.access)).json(), DENIED)
      t.same((await post(app, `/api/admin/users/${root.id}/mfa/reset/`, {}, admin.access)).json(), DENIED)
      t.equal((await call(app, 'DELETE', `/api/admin/users/${root.id}/`, { access: admin.access })).statusCode, 403)
      const promoted = await patch(app, user.id, { is_staff: true, is_superuser: true }, root.access)
      t.match(promoted.json(), { is_staff: true, is_superuser: true })
      t.equal((await patch(app, '00000000-0000-4000-8000-000000000000', { first_name: 'x' }, admin.access)).statusCode, 404)
    })

    t.test('deactivation: every session ends at once (here and on another instance), login answers like a wrong password; reactivation', async (t) => {
      const user = await register(app)
      const second = await login(app, user.username)
      const twin = mode === 'postgres' ? await built.twin() : null
      // Cached as alive on both instances first.
      t.equal((await get(app, '/api/protected-endpoint/', user.access)).statusCode, 200)
      if (twin) t.equal((await get(twin, '/api/protected-endpoint/', second.access)).statusCode, 200)
      const res = await patch(app, user.id, { is_active: false }, admin.access)
      t.equal(res.statusCode, 200)
      t.equal(res.json().is_active, false)
      t.equal((await get(app, '/api/protected-endpoint/', user.access)).statusCode, 401, 'the access token already issued')
      if (twin) t.equal((await get(twin, '/api/protected-endpoint/', second.access)).statusCode, 401, 'on the other instance too')
      t.equal((await post(app, '/api/token/refresh/', { refresh: second.refresh })).statusCode, 401)
      const wrong = await post(app, '/api/auth/login/', { username: user.username, password: 'Wrong-Passphrase!' })
      const inactive = await post(app, '/api/auth/login/', { username: user.username, password: PASSWORD })
      t.equal(inactive.statusCode, wrong.statusCode)
      t.same(inactive.json(), wrong.json())
      t.same(inactive.json(), INVALID_CREDENTIALS)
      t.equal((await patch(app, user.id, { is_active: true }, admin.access)).statusCode, 200)
      t.equal((await post(app, '/api/auth/login/', { username: user.username, password: PASSWORD })).statusCode, 200, 'signs in again')
      t.equal((await get(app, '/api/protected-endpoint/', user.access)).statusCode, 401, 'the old sessions stay ended')
    })

    t.test('deactivation racing a login: whichever comes first, the login keeps no live session', async (t) => {
      // The login's session is in the store, its compare-and-set not yet run, when the deactivation comes.
      const first = await register(app)
      const atRecord = hold(app.users, 'recordLogin')
      const racing = post(app, '/api/auth/login/', { username: first.username, password: PASSWORD })
      await atRecord.reached
      t.equal((await patch(app, first.id, { is_active: false }, admin.access)).statusCode, 200)
      atRecord.release()
      const lost = await racing
      t.equal(lost.statusCode, 401, 'answered like a wrong password')
      t.same((await get(app, `/api/admin/users/${first.id}/sessions/`, admin.access)).json(), [])

      // The deactivation has revoked once and is about to write when a whole login happens.
      const second = await register(app)
      const atWrite = hold(app.users, 'adminUpdate')
      const deactivating = patch(app, second.id, { is_active: false }, admin.access)
      await atWrite.reached
      const won = await post(app, '/api/auth/login/', { username: second.username, password: PASSWORD })
      t.equal(won.statusCode, 200, 'still active: the login goes through')
      atWrite.release()
      t.equal((await deactivating).statusCode, 200)
      t.equal((await get(app, '/api/protected-endpoint/', won.json().access)).statusCode, 401, 'its session is ended by the revocation after the write')
      t.equal((await post(app, '/api/token/refresh/', { refresh: won.json().refresh })).statusCode, 401)
      t.same((await get(app, `/api/admin/users/${second.id}/sessions/`, admin.access)).json(), [])
    })

    t.test('sessions: listed, one revoked, all revoked', async (t) => {
      const user = await register(app)
      const other = await login(app, user.username)
      const listed = await get(app, `/api/admin/users/${user.id}/sessions/`, admin.access)
      t.equal(listed.statusCode, 200)
      t.equal(listed.json().length, 2)
      t.ok(listed.json().every((s: { current: boolean }) => !s.current))
      const sid = (JSON.parse(Buffer.from(other.access.split('.')[1]!, 'base64url').toString()) as { sid: string }).sid
      t.equal((await call(app, 'DELETE', `/api/admin/users/${user.id}/sessions/${sid}/`, { access: admin.access })).statusCode, 204)
      t.equal((await get(app, '/api/protected-endpoint/', other.access)).statusCode, 401)
      t.equal((await get(app, '/api/protected-endpoint/', user.access)).statusCode, 200)
      t.equal((await call(app, 'DELETE', `/api/admin/users/${user.id}/sessions/${sid}/`, { access: admin.access })).statusCode, 404, 'already revoked')
      t.equal((await call(app, 'DELETE', `/api/admin/users/${admin.id}/sessions/${sid}/`, { access: admin.access })).statusCode, 404, "another user's session")
      const all = await post(app, `/api/admin/users/${user.id}/logout-all/`, {}, admin.access)
      t.equal(all.statusCode, 200)
      t.same(all.json(), { detail: 'Successfully logged out of all sessions' })
      t.equal((await get(app, '/api/protected-endpoint/', user.access)).statusCode, 401)
      t.same((await get(app, `/api/admin/users/${user.id}/sessions/`, admin.access)).json(), [])
      t.equal((await get(app, '/api/admin/users/00000000-0000-4000-8000-000000000000/sessions/', admin.access)).statusCode, 404)
    })

    t.test('password reset: the user gets the e-mail with its link', async (t) => {
      const user = await register(app)
      const res = await post(app, `/api/admin/users/${user.id}/password-reset/`, {}, admin.access)
      t.equal(res.statusCode, 200)
      t.same(res.json(), { detail: 'Password reset e-mail has been sent.' })
      const mail = await smtp.next((m) => JSON.stringify(m.to).includes(user.email))
      t.match(mail.text, /\/account\/reset\/\?uid=[^&\s]+&token=\S+/)
    })

    t.test('second-factor reset: TOTP off, recovery codes gone, every session revoked; sign-in without a code', async (t) => {
      const user = await register(app)
      const at = Date.now()
      app.mfa.now = () => at
      const { secret } = (await post(app, '/api/auth/mfa/totp/setup/', {}, user.access)).json() as { secret: string }
      const code = TOTP.generate({ ...TOTP_PARAMS, secret: Secret.fromBase32(secret), timestamp: at - 30_000 })
      t.equal((await post(app, '/api/auth/mfa/totp/confirm/', { code }, user.access)).statusCode, 200)
      t.equal((await get(app, `/api/admin/users/${user.id}/`, admin.access)).json().mfa_enabled, true)
      t.equal((await post(app, '/api/auth/login/', { username: user.username, password: PASSWORD })).json().mfa_required, true)
      const res = await post(app, `/api/admin/users/${user.id}/mfa/reset/`, {}, admin.access)
      t.equal(res.statusCode, 200)
      t.equal((await get(app, '/api/protected-endpoint/', user.access)).statusCode, 401)
      t.same(await app.mfa.status(user.id), { totp: false, recoveryCodesLeft: 0, passkeys: 0 })
      t.equal((await get(app, `/api/admin/users/${user.id}/`, admin.access)).json().mfa_enabled, false)
      t.ok((await login(app, user.username)).access)
    })

    t.test('deletion: as account deletion; then a 404', async (t) => {
      const user = await register(app)
      t.equal((await call(app, 'DELETE', `/api/admin/users/${user.id}/`, { access: admin.access })).statusCode, 204)
      t.equal((await get(app, '/api/protected-endpoint/', user.access)).statusCode, 401)
      t.equal((await get(app, `/api/admin/users/${user.id}/`, admin.access)).statusCode, 404)
      t.equal((await call(app, 'DELETE', `/api/admin/users/${user.id}/`, { access: admin.access })).statusCode, 404)
      t.ok(await register(app, { username: user.username }), 'the username is free again')
    })

    t.test('every action is audited with the acting admin', async (t) => {
      const user = await register(app)
      await patch(app, user.id, { last_name: 'Audited' }, admin.access)
      await post(app, `/api/admin/users/${user.id}/logout-all/`, {}, admin.access)
      const lines = built.logs.filter((l) => l.audit === true && l.user_id === user.id)
      t.match(lines.find((l) => l.event === 'admin_user_changed'), { outcome: 'success', actor_id: admin.id, changes: 'last_name' })
      t.match(lines.find((l) => l.event === 'admin_logout_all'), { outcome: 'success', actor_id: admin.id, sessions: 1 })
      const plain = await register(app)
      await get(app, '/api/admin/users/', plain.access)
      t.match(built.logs.find((l) => l.event === 'admin_denied' && l.user_id === plain.id), { outcome: 'not_staff' })
    })
  })
}

t.test('ADMIN_REQUIRE_MFA: a token without a second factor is refused; one from a sign-in with TOTP is accepted', async (t) => {
  const { app } = await build(t, 'embedded', { ADMIN_REQUIRE_MFA: 'true' })
  const admin = await staff(app, true, { username: uniqueName('mfa_admin') })
  const refused = await get(app, '/api/admin/users/', admin.access)
  t.equal(refused.statusCode, 403)
  t.same(refused.json(), MFA_NEEDED)
  const plain = await register(app)
  t.same((await get(app, '/api/admin/users/', plain.access)).json(), DENIED, 'not staff: the permission comes first')

  const at = Date.now()
  app.mfa.now = () => at
  const { secret } = (await post(app, '/api/auth/mfa/totp/setup/', {}, admin.access)).json() as { secret: string }
  const codeAt = (ms: number) => TOTP.generate({ ...TOTP_PARAMS, secret: Secret.fromBase32(secret), timestamp: ms })
  t.equal((await post(app, '/api/auth/mfa/totp/confirm/', { code: codeAt(at - 30_000) }, admin.access)).statusCode, 200)
  const first = await post(app, '/api/auth/login/', { username: admin.username, password: PASSWORD })
  const second = await post(app, '/api/auth/login/code/', { ephemeral_token: first.json().ephemeral_token, code: codeAt(at) })
  t.equal(second.statusCode, 200)
  t.equal((await get(app, '/api/admin/users/', second.json().access)).statusCode, 200)
})
