// Two-factor authentication over HTTP: TOTP setup and confirm, the sign-in's second step (the
// window, the replay guard, races, the ephemeral token's lifetime, single use and tries), recovery
// codes, disable, step-up, amr/auth_time through refreshes, and throttling shared with login.
// The TOTP clock is the app's (app.mfa.now), moved by the tests; codes are computed with otpauth.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { Secret, TOTP } from 'otpauth'
import { build, call, claims, get, MODES, PASSWORD, post, register, type Registered } from '../../helper.js'
import { TOTP_PARAMS } from '../../../plugins/app/mfa/index.js'

const STEP = 30_000
/** A fixed instant in the middle of a step, so that ±1 step stays inside the window. */
const T0 = Math.floor(Date.UTC(2026, 11, 3, 12) / STEP) * STEP + 15_000

const codeAt = (secret: string, at: number) => TOTP.generate({ ...TOTP_PARAMS, secret: Secret.fromBase32(secret), timestamp: at })

/** The clock of the app's TOTP steps, set to `at`. */
const setClock = (app: FastifyInstance, at: number) => {
  app.mfa.now = () => at
}

/** A registered user with TOTP on: its secret and recovery codes (the clock at T0, step 0 used by the confirmation). */
async function enrolled (app: FastifyInstance): Promise<Registered & { secret: string; recovery: string[] }> {
  const user = await register(app)
  setClock(app, T0)
  const setup = await post(app, '/api/auth/mfa/totp/setup/', {}, user.access)
  const { secret } = setup.json() as { secret: string }
  const confirm = await post(app, '/api/auth/mfa/totp/confirm/', { code: codeAt(secret, T0 - STEP) }, user.access)
  if (confirm.statusCode !== 200) throw new Error(`confirm failed: ${confirm.body}`)
  return { ...user, secret, recovery: confirm.json().recovery_codes }
}

async function firstStep (app: FastifyInstance, username: string, url = '/api/auth/login/') {
  const res = await post(app, url, { username, password: PASSWORD })
  if (res.statusCode !== 200 || res.json().mfa_required !== true) throw new Error(`first step: ${res.statusCode} ${res.body}`)
  return res.json().ephemeral_token as string
}

const secondStep = (app: FastifyInstance, ephemeral: string, code: string) => post(app, '/api/auth/login/code/', { ephemeral_token: ephemeral, code })

t.test('RFC 6238 Appendix B: the SHA-1 vectors through otpauth as configured (6 digits: the last six of the 8-digit values)', async (t) => {
  const secret = Secret.fromLatin1('12345678901234567890')
  const vectors: Array<[number, string]> = [
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130']
  ]
  for (const [time, code] of vectors) {
    t.equal(TOTP.generate({ ...TOTP_PARAMS, secret, timestamp: time * 1000 }), code.slice(2), `T = ${time}`)
    t.equal(TOTP.generate({ ...TOTP_PARAMS, digits: 8, secret, timestamp: time * 1000 }), code, `T = ${time}, 8 digits`)
  }
})

for (const mode of MODES) {
  t.test(`two-factor authentication (${mode})`, async (t) => {
    const { app } = await build(t, mode)

    t.test('setup answers a secret, its otpauth URL and a QR code; confirm turns it on with ten recovery codes', async (t) => {
      const user = await register(app)
      setClock(app, T0)
      t.same((await get(app, '/api/auth/mfa/', user.access)).json(), { totp: false, recovery_codes_left: 0, passkeys: 0 })
      const first = (await post(app, '/api/auth/mfa/totp/setup/', {}, user.access)).json()
      const setup = await post(app, '/api/auth/mfa/totp/setup/', {}, user.access)
      t.equal(setup.statusCode, 200)
      const { secret, otpauth_url: otpauthUrl, qr_svg: qrSvg } = setup.json()
      t.not(secret, first.secret, 'a new setup replaces the unconfirmed one')
      t.match(secret, /^[A-Z2-7]{32}$/)
      t.equal(otpauthUrl, `otpauth://totp/Auth%20service:${user.username}?issuer=Auth%20service&secret=${secret}&algorithm=SHA1&digits=6&period=30`)
      t.match(qrSvg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/)
      t.notMatch(qrSvg, /https?:\/\/(?!www\.w3\.org)/, 'nothing loaded from elsewhere')
      // Not active yet: a login needs no code.
      t.equal((await post(app, '/api/auth/login/', { username: user.username, password: PASSWORD })).json().mfa_required, undefined)
      t.same((await post(app, '/api/auth/mfa/totp/confirm/', { code: codeAt(first.secret, T0) }, user.access)).json(), { code: ['Invalid code.'] }, "the replaced secret's code")
      t.same((await post(app, '/api/auth/mfa/totp/confirm/', { code: '000000' }, user.access)).json(), { code: ['Invalid code.'] })
      const confirm = await post(app, '/api/auth/mfa/totp/confirm/', { code: codeAt(secret, T0) }, user.access)
      t.equal(confirm.statusCode, 200)
      const codes = confirm.json().recovery_codes as string[]
      t.equal(codes.length, 10)
      t.equal(new Set(codes).size, 10)
      for (const c of codes) t.match(c, /^[a-z2-9]{5}-[a-z2-9]{5}$/)
      t.same((await get(app, '/api/auth/mfa/', user.access)).json(), { totp: true, recovery_codes_left: 10, passkeys: 0 })
      const again = await post(app, '/api/auth/mfa/totp/setup/', {}, user.access)
      t.equal(again.statusCode, 400)
      t.same(again.json(), { detail: 'Two-factor authentication is already enabled.' })
      // At rest: neither the secret nor a recovery code is stored as given.
      const row = await app.prisma.totpDevice.findUnique({ where: { userId: user.id } })
      t.notOk(row!.secret.includes(secret))
      t.match(row!.secret, /^v1\.[A-Za-z0-9_-]{8}\./)
      const hashes = await app.prisma.recoveryCode.findMany({ where: { userId: user.id } })
      t.equal(hashes.length, 10)
      t.notOk(hashes.some((h) => codes.some((c) => h.codeHash.includes(c.replace('-', '')))))
    })

    t.test('login and /api/token/ ask for the second factor; the window is the previous, current and next step; each step once', async (t) => {
      const user = await enrolled(app)
      for (const url of ['/api/auth/login/', '/api/token/']) {
        const res = await post(app, url, { username: user.username, password: PASSWORD })
        t.equal(res.statusCode, 200, url)
        const body = res.json()
        t.same(Object.keys(body).sort(), ['ephemeral_token', 'methods', 'mfa_required'], `${url}: no tokens`)
        t.same(body.methods, ['totp', 'recovery_code'])
      }
      // Steps -2 and +2 are outside the window.
      for (const offset of [-2, 2]) {
        const res = await secondStep(app, await firstStep(app, user.username), codeAt(user.secret, T0 + offset * STEP))
        t.same(res.json(), { code: ['Invalid code.'] }, `step ${offset}`)
      }
      // -1, 0, +1 in that order: each later than the last accepted (the confirmation used step -1... at T0 - STEP: step -1).
      const accepted: number[] = []
      for (const offset of [0, 1]) {
        const res = await secondStep(app, await firstStep(app, user.username), codeAt(user.secret, T0 + offset * STEP))
        t.equal(res.statusCode, 200, `step ${offset} accepted`)
        accepted.push(offset)
        t.ok(res.json().access)
      }
      // Replays: the same step again, and an older step.
      for (const offset of [1, 0, -1]) {
        const res = await secondStep(app, await firstStep(app, user.username), codeAt(user.secret, T0 + offset * STEP))
        t.same(res.json(), { code: ['Invalid code.'] }, `step ${offset} after step 1: a replay`)
      }
      // Time moves on: the next step's code works.
      setClock(app, T0 + 2 * STEP)
      t.equal((await secondStep(app, await firstStep(app, user.username), codeAt(user.secret, T0 + 2 * STEP))).statusCode, 200)
      t.same(accepted, [0, 1])
    })

    t.test('two requests with one code: exactly one succeeds (separate sign-ins, and twenty on one ephemeral token)', async (t) => {
      const user = await enrolled(app)
      const code = codeAt(user.secret, T0)
      const [a, b] = await Promise.all([firstStep(app, user.username), firstStep(app, user.username)])
      const two = await Promise.all([secondStep(app, a, code), secondStep(app, b, code)])
      t.same(two.map((r) => r.statusCode).sort(), [200, 400])
      setClock(app, T0 + STEP)
      const ephemeral = await firstStep(app, user.username)
      const next = codeAt(user.secret, T0 + STEP)
      const twenty = await Promise.all(Array.from({ length: 20 }, () => secondStep(app, ephemeral, next)))
      t.equal(twenty.filter((r) => r.statusCode === 200).length, 1, 'one of twenty')
      t.equal(twenty.filter((r) => r.statusCode === 400).length, 19)
      // Every session the winners got: one per winning request.
      t.equal((await get(app, '/api/auth/sessions/', twenty.find((r) => r.statusCode === 200)!.json().access)).json().length, 3)
    })

    t.test('the ephemeral token: 5 minutes, once, and dead after 5 wrong codes', async (t) => {
      const user = await enrolled(app)
      setClock(app, T0)
      const late = await firstStep(app, user.username)
      setClock(app, T0 + 301_000)
      t.same((await secondStep(app, late, codeAt(user.secret, T0 + 301_000))).json(), { ephemeral_token: ['Invalid or expired token.'] }, 'expired')
      setClock(app, T0 + 10 * STEP)
      const once = await firstStep(app, user.username)
      t.equal((await secondStep(app, once, codeAt(user.secret, T0 + 10 * STEP))).statusCode, 200)
      t.same((await secondStep(app, once, user.recovery[0]!)).json(), { ephemeral_token: ['Invalid or expired token.'] }, 'used')
      const tries = await firstStep(app, user.username)
      for (let i = 1; i <= 4; i++) t.same((await secondStep(app, tries, '000000')).json(), { code: ['Invalid code.'] }, `wrong code ${i}`)
      t.same((await secondStep(app, tries, '000000')).json(), { ephemeral_token: ['Invalid or expired token.'] }, 'the fifth wrong code kills it')
      setClock(app, T0 + 11 * STEP)
      t.same((await secondStep(app, tries, codeAt(user.secret, T0 + 11 * STEP))).json(), { ephemeral_token: ['Invalid or expired token.'] }, 'even for a right code')
      t.same((await secondStep(app, 'not-a-token', '123456')).json(), { ephemeral_token: ['Invalid or expired token.'] })
      const missing = await post(app, '/api/auth/login/code/', { ephemeral_token: tries })
      t.same(missing.json(), { code: ['This field is required.'] })
    })

    t.test('recovery codes work once each, in any case and spacing; new ones kill the old set', async (t) => {
      const user = await enrolled(app)
      const [first, second, third] = user.recovery as [string, string, string]
      const ok = await secondStep(app, await firstStep(app, user.username), first.toUpperCase().replace('-', ' '))
      t.equal(ok.statusCode, 200)
      t.same(claims(ok.json().access).amr, ['pwd', 'otp', 'mfa'])
      t.same((await secondStep(app, await firstStep(app, user.username), first)).json(), { code: ['Invalid code.'] }, 'used')
      t.equal((await get(app, '/api/auth/mfa/', ok.json().access)).json().recovery_codes_left, 9)
      // New codes (the session's second factor is recent: no code needed).
      const fresh = await post(app, '/api/auth/mfa/recovery-codes/', { password: PASSWORD }, ok.json().access)
      t.equal(fresh.statusCode, 200)
      t.equal(fresh.json().recovery_codes.length, 10)
      t.same((await secondStep(app, await firstStep(app, user.username), second)).json(), { code: ['Invalid code.'] }, 'the old set is dead')
      t.not(fresh.json().recovery_codes.indexOf(third), 0)
      t.equal((await secondStep(app, await firstStep(app, user.username), fresh.json().recovery_codes[3])).statusCode, 200)
      t.same((await post(app, '/api/auth/mfa/recovery-codes/', { password: 'wrong' }, ok.json().access)).json(), { password: ['Your password was entered incorrectly.'] })
    })

    t.test('amr and auth_time: in both tokens, kept through refreshes, shown in the sessions list', async (t) => {
      const user = await enrolled(app)
      t.same(claims(user.access).amr, ['pwd'], 'register: a password')
      const res = await secondStep(app, await firstStep(app, user.username), codeAt(user.secret, T0))
      const { access, refresh } = res.json()
      for (const token of [access, refresh]) {
        t.same(claims(token).amr, ['pwd', 'otp', 'mfa'])
        t.type(claims(token).auth_time, 'number')
      }
      const authTime = claims(access).auth_time
      const rotated = await post(app, '/api/token/refresh/', { refresh })
      t.equal(rotated.statusCode, 200)
      for (const token of [rotated.json().access, rotated.json().refresh]) {
        t.same(claims(token).amr, ['pwd', 'otp', 'mfa'], 'after a rotation')
        t.equal(claims(token).auth_time, authTime, 'the sign-in time, not the refresh time')
      }
      const sessions = (await get(app, '/api/auth/sessions/', rotated.json().access)).json() as Array<Record<string, unknown>>
      const mine = sessions.find((s) => s.current)!
      t.same(mine.amr, ['pwd', 'otp', 'mfa'])
      t.equal(mine.auth_time, authTime)
      t.equal(Date.parse(String(mine.created)) / 1000, authTime)
      t.same(sessions.find((s) => !s.current)!.amr, ['pwd'], "register's session")
    })

    t.test('step-up: a session without a recent second factor needs a code for the sensitive operations', async (t) => {
      const user = await enrolled(app)
      // The register session signed in with a password only.
      const change = (body: Record<string, string>, access = user.access) =>
        post(app, '/api/auth/password/change/', { old_password: PASSWORD, new_password1: 'An0ther-Passphrase!', new_password2: 'An0ther-Passphrase!', ...body }, access)
      t.same((await change({})).json(), { code: ['This field is required.'] })
      t.same((await change({ code: '000000' })).json(), { code: ['Invalid code.'] })
      t.same((await post(app, '/api/auth/mfa/totp/disable/', { password: PASSWORD }, user.access)).json(), { code: ['This field is required.'] })
      t.same((await post(app, '/api/auth/mfa/recovery-codes/', { password: PASSWORD }, user.access)).json(), { code: ['This field is required.'] })
      t.same((await call(app, 'DELETE', '/api/auth/me/', { body: { password: PASSWORD }, access: user.access })).json(), { code: ['This field is required.'] })
      t.same((await post(app, '/api/auth/passkeys/register/options/', {}, user.access)).json(), { code: ['This field is required.'] })
      // Nothing changed: the old password still signs in.
      t.equal((await post(app, '/api/auth/login/', { username: user.username, password: PASSWORD })).json().mfa_required, true)
      t.equal((await change({ code: codeAt(user.secret, T0) })).statusCode, 200, 'with a code')
    })

    t.test('disable: password and step-up, then every other session is revoked and login needs no code', async (t) => {
      const user = await enrolled(app)
      setClock(app, T0 + 5 * STEP)
      const a = (await secondStep(app, await firstStep(app, user.username), codeAt(user.secret, T0 + 5 * STEP))).json()
      t.same((await post(app, '/api/auth/mfa/totp/disable/', { password: 'wrong' }, a.access)).json(), { password: ['Your password was entered incorrectly.'] })
      const off = await post(app, '/api/auth/mfa/totp/disable/', { password: PASSWORD }, a.access)
      t.same(off.json(), { detail: 'Two-factor authentication disabled.' })
      t.equal((await get(app, '/api/auth/me/', user.access)).statusCode, 401, "register's session revoked")
      t.equal((await get(app, '/api/auth/me/', a.access)).statusCode, 200, "the caller's kept")
      t.same((await get(app, '/api/auth/mfa/', a.access)).json(), { totp: false, recovery_codes_left: 0, passkeys: 0 })
      const login = await post(app, '/api/auth/login/', { username: user.username, password: PASSWORD })
      t.ok(login.json().access)
      t.same(claims(login.json().access).amr, ['pwd'])
      t.equal((await post(app, '/api/auth/mfa/totp/disable/', { password: PASSWORD }, a.access)).statusCode, 400, 'not on any more')
    })

    t.test('a password changed between the two steps ends the sign-in', async (t) => {
      const user = await enrolled(app)
      setClock(app, T0 + 20 * STEP)
      const ephemeral = await firstStep(app, user.username)
      const code = codeAt(user.secret, T0 + 19 * STEP)
      t.equal((await post(app, '/api/auth/password/change/', { old_password: PASSWORD, new_password1: 'An0ther-Passphrase!', new_password2: 'An0ther-Passphrase!', code }, user.access)).statusCode, 200)
      t.same((await secondStep(app, ephemeral, codeAt(user.secret, T0 + 20 * STEP))).json(), { ephemeral_token: ['Invalid or expired token.'] })
    })
  })
}

t.test('wrong codes count as failed logins of the account: the same throttle as the password', async (t) => {
  const { app } = await build(t, 'embedded', { RATE_LIMIT_ENABLED: 'true', LOGIN_FAILURES_PER_USER_IP: '3', LOGIN_ATTEMPTS_PER_IP: '100' })
  const user = await enrolled(app)
  const ephemeral = await firstStep(app, user.username)
  for (let i = 0; i < 3; i++) t.equal((await secondStep(app, ephemeral, '000000')).statusCode, 400)
  const right = await secondStep(app, ephemeral, codeAt(user.secret, T0))
  t.equal(right.statusCode, 429, 'a right code once the limit is reached')
  t.ok(right.headers['retry-after'])
  t.equal((await post(app, '/api/auth/login/', { username: user.username, password: PASSWORD })).statusCode, 429, 'and the password login')
})

t.test('cookie mode: the first step sets no cookie; the second sets the refresh cookie and keeps the token out of the body', async (t) => {
  const { app } = await build(t, 'embedded')
  const user = await enrolled(app)
  const web = { 'x-auth-mode': 'cookie', origin: 'http://127.0.0.1:8000' }
  const first = await call(app, 'POST', '/api/auth/login/', { headers: web, body: { username: user.username, password: PASSWORD } })
  t.equal(first.json().mfa_required, true)
  t.notOk(first.headers['set-cookie'], 'no cookie before the second step')
  const second = await call(app, 'POST', '/api/auth/login/code/', { headers: web, body: { ephemeral_token: first.json().ephemeral_token, code: codeAt(user.secret, T0) } })
  t.equal(second.statusCode, 200)
  t.ok(second.json().access)
  t.equal(second.json().refresh, undefined, 'the refresh token is the cookie')
  t.match(String(second.headers['set-cookie']), /^refresh_token=[^;]+;.*HttpOnly/)
  t.equal(claims(second.json().access).sid, claims(String(second.headers['set-cookie']).split(/[=;]/)[1]!).sid, 'of the same session')
})
