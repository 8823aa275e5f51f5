// Passkeys (WebAuthn) over HTTP, with a software authenticator (test/support/webauthn.ts):
// registration (options, attestation, list, the single-use challenge, origin and relying party),
// the username-less sign-in (amr, last_used, replays, unknown credentials), a cloned
// authenticator's counter going backwards, a passkey as the second step after a password, and
// deletion with step-up.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { Secret, TOTP } from 'otpauth'
import { build, call, claims, get, MODES, PASSWORD, post, register, type Registered } from '../../helper.js'
import { TOTP_PARAMS } from '../../../plugins/app/mfa/index.js'
import { FLAGS, SoftAuthenticator, TEST_ORIGIN, TEST_RP_ID, type CreationOptions, type RequestOptions } from '../../support/webauthn.js'

const STEP = 30_000
/** A fixed instant in the middle of a step, so that ±1 step stays inside the window. */
const T0 = Math.floor(Date.UTC(2026, 11, 3, 12) / STEP) * STEP + 15_000
const INVALID_PASSKEY = { credential: ['The passkey could not be verified.'] }
const INVALID_CREDENTIALS = { detail: 'Invalid credentials' }
const CODE_REQUIRED = { code: ['This field is required.'] }

const codeAt = (secret: string, at: number) => TOTP.generate({ ...TOTP_PARAMS, secret: Secret.fromBase32(secret), timestamp: at })

/** A registered user with TOTP on (the app's TOTP clock at T0, step -1 used by the confirmation). */
async function enrolled (app: FastifyInstance): Promise<Registered & { secret: string }> {
  const user = await register(app)
  app.mfa.now = () => T0
  const { secret } = (await post(app, '/api/auth/mfa/totp/setup/', {}, user.access)).json() as { secret: string }
  const confirm = await post(app, '/api/auth/mfa/totp/confirm/', { code: codeAt(secret, T0 - STEP) }, user.access)
  if (confirm.statusCode !== 200) throw new Error(`confirm failed: ${confirm.body}`)
  return { ...user, secret }
}

async function creationOptions (app: FastifyInstance, access: string, body: Record<string, string> = {}): Promise<CreationOptions> {
  const res = await post(app, '/api/auth/passkeys/register/options/', body, access)
  if (res.statusCode !== 200) throw new Error(`register options: ${res.statusCode} ${res.body}`)
  return res.json() as CreationOptions
}

async function requestOptions (app: FastifyInstance): Promise<RequestOptions> {
  const res = await post(app, '/api/auth/passkeys/login/options/', {})
  if (res.statusCode !== 200) throw new Error(`login options: ${res.statusCode} ${res.body}`)
  return res.json() as RequestOptions
}

/** A new passkey of the user (the session must pass step-up if the user has a second factor, or give `code`, with the options). */
async function addPasskey (app: FastifyInstance, access: string, { code, name = 'Laptop' }: { code?: string; name?: string } = {}, authenticator = new SoftAuthenticator()) {
  const options = await creationOptions(app, access, code === undefined ? {} : { code })
  const res = await post(app, '/api/auth/passkeys/register/', { credential: authenticator.register(options), name }, access)
  if (res.statusCode !== 201) throw new Error(`register passkey: ${res.statusCode} ${res.body}`)
  return { authenticator, passkey: res.json() as { id: string; name: string; created: string; last_used: string | null } }
}

/** The username-less sign-in with this authenticator, for fresh options. */
async function passkeyLogin (app: FastifyInstance, authenticator: SoftAuthenticator) {
  return post(app, '/api/auth/passkeys/login/', { credential: authenticator.assert(await requestOptions(app)) })
}

for (const mode of MODES) {
  t.test(`passkeys (${mode})`, async (t) => {
    const app = (await build(t, mode)).app

    t.test('register: options, then the attestation; listed, counted, excluded from the next options; the challenge once', async (t) => {
      const user = await register(app)
      const authenticator = new SoftAuthenticator()
      const options = await creationOptions(app, user.access)
      t.match(options.challenge, /^[A-Za-z0-9_-]{16,128}$/)
      t.equal(options.rp.id, TEST_RP_ID)
      t.equal(options.user.id, Buffer.from(user.id.replace(/-/g, ''), 'hex').toString('base64url'), 'the user handle: the id as bytes')
      t.equal(options.user.name, user.username)
      t.match(options.authenticatorSelection, { residentKey: 'required', requireResidentKey: true, userVerification: 'required' })
      t.same(options.excludeCredentials, [])
      t.equal(options.attestation, 'none')
      t.ok((options.pubKeyCredParams as Array<{ alg: number }>).some((p) => p.alg === -7), 'ES256 offered')

      // Another origin, another relying party, no user verification, the wrong ceremony: refused (each spends its challenge).
      const refusals: Array<[string, Parameters<SoftAuthenticator['register']>[1]]> = [
        ['another origin', { origin: 'https://evil.example' }],
        ['another relying party', { rpId: 'evil.example' }],
        ['no user verification', { flags: FLAGS.UP | FLAGS.AT }],
        ['a webauthn.get client data', { type: 'webauthn.get' }]
      ]
      let spent = options
      for (const [what, overrides] of refusals) {
        const res = await post(app, '/api/auth/passkeys/register/', { credential: authenticator.register(spent, overrides) }, user.access)
        t.equal(res.statusCode, 400, what)
        t.same(res.json(), INVALID_PASSKEY, what)
        spent = await creationOptions(app, user.access)
      }
      const used = authenticator.register(options)
      t.same((await post(app, '/api/auth/passkeys/register/', { credential: used }, user.access)).json(), INVALID_PASSKEY, 'a challenge a refused attempt spent')
      t.same((await post(app, '/api/auth/passkeys/register/', { credential: authenticator.register(spent, { challenge: 'A'.repeat(43) }) }, user.access)).json(), INVALID_PASSKEY, 'a challenge never given')
      // Options made for another user: only that user may answer them.
      const other = await register(app)
      const theirs = authenticator.register(await creationOptions(app, other.access))
      t.same((await post(app, '/api/auth/passkeys/register/', { credential: theirs }, user.access)).json(), INVALID_PASSKEY, "another user's challenge")
      t.same((await post(app, '/api/auth/passkeys/register/', {}, user.access)).json(), { credential: ['This field is required.'] })
      t.same((await get(app, '/api/auth/passkeys/', user.access)).json(), [], 'nothing stored')

      const credential = authenticator.register(await creationOptions(app, user.access))
      const res = await post(app, '/api/auth/passkeys/register/', { credential, name: 'Laptop' }, user.access)
      t.equal(res.statusCode, 201)
      const passkey = res.json()
      t.same(Object.keys(passkey).sort(), ['created', 'id', 'last_used', 'name'])
      t.match(passkey, { id: /^[A-Za-z0-9_-]{1,32}$/, name: 'Laptop', created: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, last_used: null })
      t.same((await get(app, '/api/auth/passkeys/', user.access)).json(), [passkey])
      t.same((await get(app, '/api/auth/mfa/', user.access)).json(), { totp: false, recovery_codes_left: 0, passkeys: 1 })
      const row = await app.prisma.passkey.findUnique({ where: { id: passkey.id } })
      t.equal(row!.credentialId, authenticator.id)
      t.equal(row!.counter, 0n)
      t.equal(row!.transports, 'internal')
      t.same((await get(app, '/api/auth/passkeys/', other.access)).json(), [], "not in another user's list")

      // The user has a passkey now: adding another is a step-up (before any challenge), which the register session (a password) has not.
      t.same((await post(app, '/api/auth/passkeys/register/options/', {}, user.access)).json(), CODE_REQUIRED, 'step-up first')
      const signedIn = await passkeyLogin(app, authenticator)
      t.equal(signedIn.statusCode, 200)
      const { access } = signedIn.json()
      const again = await creationOptions(app, access)
      t.same(again.excludeCredentials, [{ id: authenticator.id, type: 'public-key', transports: ['internal'] }], 'the passkey excluded')
      t.same((await post(app, '/api/auth/passkeys/register/', { credential }, access)).json(), INVALID_PASSKEY, 'the same registration replayed')
      const twice = authenticator.register(await creationOptions(app, access))
      t.same((await post(app, '/api/auth/passkeys/register/', { credential: twice }, access)).json(), INVALID_PASSKEY, 'a credential registered already')
      t.same((await post(app, '/api/auth/passkeys/register/', { credential: new SoftAuthenticator().register(await creationOptions(app, access)) }, other.access)).json(), INVALID_PASSKEY, "another user's options")
      const second = await addPasskey(app, access, { name: '  ' })
      t.equal(second.passkey.name, 'Passkey', 'a blank name: the default')
      t.same((await get(app, '/api/auth/passkeys/', access)).json().map((p: { id: string }) => p.id), [passkey.id, second.passkey.id], 'oldest first')
      t.equal((await get(app, '/api/auth/mfa/', access)).json().passkeys, 2)
    })

    t.test('username-less sign-in: amr hwk and mfa, last_used set; the assertion once; unknown credentials refused', async (t) => {
      const user = await register(app)
      const { authenticator, passkey } = await addPasskey(app, user.access)
      const options = await requestOptions(app)
      t.match(options.challenge, /^[A-Za-z0-9_-]{16,128}$/)
      t.equal(options.rpId, TEST_RP_ID)
      t.equal(options.userVerification, 'required')
      t.notOk((options.allowCredentials as unknown[] | undefined)?.length, 'no allowCredentials: any passkey')
      const assertion = authenticator.assert(options)
      const res = await post(app, '/api/auth/passkeys/login/', { credential: assertion })
      t.equal(res.statusCode, 200)
      const body = res.json()
      t.ok(body.access)
      t.ok(body.refresh)
      t.equal(body.user.id, user.id)
      t.equal(body.user.username, user.username)
      for (const token of [body.access, body.refresh]) {
        t.same(claims(token).amr, ['hwk', 'mfa'])
        t.type(claims(token).auth_time, 'number')
        t.equal(claims(token).user_id, user.id)
      }
      const [listed] = (await get(app, '/api/auth/passkeys/', body.access)).json()
      t.equal(listed.id, passkey.id)
      t.match(listed.last_used, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'last_used set')
      t.equal((await app.prisma.passkey.findUnique({ where: { id: passkey.id } }))!.counter, 1n, 'the counter stored')
      const sessions = (await get(app, '/api/auth/sessions/', body.access)).json() as Array<{ current: boolean; amr: string[] }>
      t.same(sessions.find((s) => s.current)!.amr, ['hwk', 'mfa'])

      const replay = await post(app, '/api/auth/passkeys/login/', { credential: assertion })
      t.equal(replay.statusCode, 401)
      t.same(replay.json(), INVALID_CREDENTIALS, 'the same assertion replayed')
      const stranger = new SoftAuthenticator()
      stranger.userHandle = authenticator.userHandle
      t.same((await passkeyLogin(app, stranger)).json(), INVALID_CREDENTIALS, 'an unknown credential')
      t.equal((await passkeyLogin(app, stranger)).statusCode, 401)
      // Another user's handle on this credential, a wrong origin or relying party, no user verification, a signature of another key.
      const refused: Array<[string, () => Promise<unknown>]> = [
        ['another user handle', async () => {
          const credential = authenticator.assert(await requestOptions(app))
          credential.response.userHandle = Buffer.from('0123456789abcdef').toString('base64url')
          return credential
        }],
        ['another origin', async () => authenticator.assert(await requestOptions(app), { origin: 'https://evil.example' })],
        ['another relying party', async () => authenticator.assert(await requestOptions(app), { rpId: 'evil.example' })],
        ['no user verification', async () => authenticator.assert(await requestOptions(app), { flags: FLAGS.UP })],
        ['a webauthn.create client data', async () => authenticator.assert(await requestOptions(app), { type: 'webauthn.create' })],
        ['a challenge never given', async () => authenticator.assert(await requestOptions(app), { challenge: 'A'.repeat(43) })],
        ['a signature of another key', async () => {
          const credential = authenticator.assert(await requestOptions(app))
          const other = new SoftAuthenticator()
          other.setCounter(authenticator.counter + 5)
          credential.response.signature = other.assert(await requestOptions(app)).response.signature
          return credential
        }]
      ]
      for (const [what, make] of refused) {
        const res = await post(app, '/api/auth/passkeys/login/', { credential: await make() })
        t.equal(res.statusCode, 401, what)
        t.same(res.json(), INVALID_CREDENTIALS, what)
      }
      t.same((await post(app, '/api/auth/passkeys/login/', {})).json(), { credential: ['This field is required.'] })
      t.equal((await post(app, '/api/auth/passkeys/login/', { credential: {} })).statusCode, 401)
      // Still usable: nothing above moved its counter.
      t.equal((await passkeyLogin(app, authenticator)).statusCode, 200, 'the authenticator still signs in')
    })

    t.test('a cloned authenticator: a counter that goes backwards (or stays) is refused', async (t) => {
      const user = await register(app)
      const { authenticator } = await addPasskey(app, user.access)
      authenticator.setCounter(10)
      t.equal((await passkeyLogin(app, authenticator)).statusCode, 200, 'counter 11')
      t.equal((await passkeyLogin(app, authenticator)).statusCode, 200, 'counter 12')
      authenticator.setCounter(4)
      const back = await passkeyLogin(app, authenticator)
      t.equal(back.statusCode, 401, 'counter 5 after 12')
      t.same(back.json(), INVALID_CREDENTIALS)
      authenticator.setCounter(11)
      t.equal((await passkeyLogin(app, authenticator)).statusCode, 401, 'counter 12 again')
      const row = await app.prisma.passkey.findFirst({ where: { credentialId: authenticator.id } })
      t.equal(row!.counter, 12n, 'the stored counter did not move')
      t.equal((await passkeyLogin(app, authenticator)).statusCode, 200, 'counter 13: forward again')
    })

    t.test('the second step after a password: a passkey assertion with the ephemeral token', async (t) => {
      const user = await enrolled(app)
      const { authenticator } = await addPasskey(app, user.access, { code: codeAt(user.secret, T0) })
      t.same((await get(app, '/api/auth/mfa/', user.access)).json(), { totp: true, recovery_codes_left: 10, passkeys: 1 })
      const firstStep = async () => {
        const res = await post(app, '/api/auth/login/', { username: user.username, password: PASSWORD })
        t.same(res.json().methods, ['totp', 'recovery_code', 'passkey'])
        return res.json().ephemeral_token as string
      }
      const ephemeral = await firstStep()
      const res = await post(app, '/api/auth/login/code/', { ephemeral_token: ephemeral, credential: authenticator.assert(await requestOptions(app)) })
      t.equal(res.statusCode, 200)
      t.equal(res.json().user.id, user.id)
      t.same(claims(res.json().access).amr, ['pwd', 'hwk', 'mfa'])
      t.same(claims(res.json().refresh).amr, ['pwd', 'hwk', 'mfa'])
      t.type(claims(res.json().access).auth_time, 'number')
      const again = await post(app, '/api/auth/login/code/', { ephemeral_token: ephemeral, credential: authenticator.assert(await requestOptions(app)) })
      t.same(again.json(), { ephemeral_token: ['Invalid or expired token.'] }, 'the ephemeral token once')

      // Another user's passkey is no second factor of this one's; nor an unknown or replayed assertion.
      const other = await register(app)
      const theirs = (await addPasskey(app, other.access)).authenticator
      const tries = await firstStep()
      const wrong = await post(app, '/api/auth/login/code/', { ephemeral_token: tries, credential: theirs.assert(await requestOptions(app)) })
      t.equal(wrong.statusCode, 400)
      t.same(wrong.json(), { credential: ['Invalid credentials'] }, "another user's passkey")
      const replayed = authenticator.assert(await requestOptions(app))
      t.equal((await post(app, '/api/auth/login/code/', { ephemeral_token: await firstStep(), credential: replayed })).statusCode, 200)
      t.same((await post(app, '/api/auth/login/code/', { ephemeral_token: tries, credential: replayed })).json(), { credential: ['Invalid credentials'] }, 'a used challenge')
      t.same((await post(app, '/api/auth/login/code/', { ephemeral_token: tries, credential: new SoftAuthenticator().assert(await requestOptions(app)) })).json(), { credential: ['Invalid credentials'] }, 'an unknown credential')
      // The wrong ones spent the token's tries (5): two more and it is dead, even for the right passkey.
      t.same((await post(app, '/api/auth/login/code/', { ephemeral_token: tries, credential: theirs.assert(await requestOptions(app)) })).json(), { credential: ['Invalid credentials'] }, 'try 4')
      t.same((await post(app, '/api/auth/login/code/', { ephemeral_token: tries, credential: theirs.assert(await requestOptions(app)) })).json(), { ephemeral_token: ['Invalid or expired token.'] }, 'try 5')
      t.same((await post(app, '/api/auth/login/code/', { ephemeral_token: tries, credential: authenticator.assert(await requestOptions(app)) })).json(), { ephemeral_token: ['Invalid or expired token.'] }, 'dead')
      // A passkey alone signs this user in too (username-less), TOTP on or not.
      const alone = await passkeyLogin(app, authenticator)
      t.equal(alone.statusCode, 200)
      t.same(claims(alone.json().access).amr, ['hwk', 'mfa'])
    })

    t.test('delete: step-up (a recent passkey sign-in stands in for a code); unknown ids 404; the passkey signs in no more', async (t) => {
      const user = await register(app)
      const { authenticator, passkey } = await addPasskey(app, user.access)
      const url = `/api/auth/passkeys/${passkey.id}/`
      // The register session gave no second factor, and the user has one now (the passkey).
      const refused = await call(app, 'DELETE', url, { access: user.access, body: {} })
      t.equal(refused.statusCode, 400)
      t.same(refused.json(), CODE_REQUIRED)
      t.same((await call(app, 'DELETE', url, { access: user.access, body: { code: '123456' } })).json(), { code: ['Invalid code.'] }, 'no TOTP: no code is right')
      const { access } = (await passkeyLogin(app, authenticator)).json()
      t.equal((await call(app, 'DELETE', '/api/auth/passkeys/AAAAAAAAAAAAAAAA/', { access, body: {} })).statusCode, 404, 'unknown id')
      t.same((await call(app, 'DELETE', '/api/auth/passkeys/not%20an%20id/', { access, body: {} })).json(), { detail: 'Not found.' }, 'not an id')
      const other = await register(app)
      t.equal((await call(app, 'DELETE', url, { access: other.access, body: {} })).statusCode, 404, "another user's passkey")
      const removed = await call(app, 'DELETE', url, { access, body: {} })
      t.equal(removed.statusCode, 204)
      t.equal(removed.body, '')
      t.same((await get(app, '/api/auth/passkeys/', access)).json(), [])
      t.same((await get(app, '/api/auth/mfa/', access)).json(), { totp: false, recovery_codes_left: 0, passkeys: 0 })
      t.equal((await call(app, 'DELETE', url, { access, body: {} })).statusCode, 404, 'gone')
      const after = await passkeyLogin(app, authenticator)
      t.equal(after.statusCode, 401)
      t.same(after.json(), INVALID_CREDENTIALS)
      // No passkey left and no TOTP: no step-up any more; a new one is added with the password session.
      t.equal((await addPasskey(app, user.access)).passkey.last_used, null)
    })

    t.test('delete with a TOTP code as the step-up; without a body for a session that gave a passkey recently', async (t) => {
      const user = await enrolled(app)
      const a = await addPasskey(app, user.access, { code: codeAt(user.secret, T0) })
      const b = await addPasskey(app, user.access, { code: codeAt(user.secret, T0 + STEP) })
      t.same((await call(app, 'DELETE', `/api/auth/passkeys/${a.passkey.id}/`, { access: user.access })).json(), CODE_REQUIRED, 'no body')
      app.mfa.now = () => T0 + 2 * STEP
      t.equal((await call(app, 'DELETE', `/api/auth/passkeys/${a.passkey.id}/`, { access: user.access, body: { code: codeAt(user.secret, T0 + 2 * STEP) } })).statusCode, 204, 'with a code')
      const { access } = (await passkeyLogin(app, b.authenticator)).json()
      t.equal((await call(app, 'DELETE', `/api/auth/passkeys/${b.passkey.id}/`, { access })).statusCode, 204, 'a recent passkey sign-in, no body')
      t.same((await get(app, '/api/auth/mfa/', access)).json(), { totp: true, recovery_codes_left: 10, passkeys: 0 })
    })
  })
}

t.test('the relying party follows PUBLIC_URL: localhost', async (t) => {
  const app = (await build(t, 'embedded', { PUBLIC_URL: 'http://localhost:8000' })).app
  const user = await register(app)
  const authenticator = new SoftAuthenticator('http://localhost:8000', 'localhost')
  const options = await creationOptions(app, user.access)
  t.equal(options.rp.id, 'localhost')
  t.same((await post(app, '/api/auth/passkeys/register/', { credential: new SoftAuthenticator().register(options) }, user.access)).json(), INVALID_PASSKEY, `${TEST_ORIGIN} is not this one's origin`)
  await addPasskey(app, user.access, {}, authenticator)
  const res = await passkeyLogin(app, authenticator)
  t.equal(res.statusCode, 200)
  t.same(claims(res.json().access).amr, ['hwk', 'mfa'])
})
