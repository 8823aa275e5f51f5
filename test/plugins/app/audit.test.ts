// The audit trail: every auth event of API.md's list, flow by flow, is one log line with
// "audit": true, the event and its outcome, the user, the session, the client's address and user
// agent, and the id of the request it happened in; and no line of the log, audit or not, holds a
// token, a password, a password hash, a reset or verification link, or an e-mail body.
import t, { type Test } from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { AUDIT_EVENTS } from '../../../plugins/app/audit.js'
import { build, call, claims, PASSWORD, register, uniqueName } from '../../helper.js'
import { startSmtp } from '../../support/smtp.js'
import { SoftAuthenticator, type CreationOptions, type RequestOptions } from '../../support/webauthn.js'
import { Secret, TOTP } from 'otpauth'
import { TOTP_PARAMS } from '../../../plugins/app/mfa/index.js'

type Line = Record<string, unknown>
const UA = 'AuditTest/1.0 (the client of this test)'
const IP = '127.0.0.1'
const NEW_PASSWORD = 'An0ther-Passphrase!'

t.test('one audit line per event, with who, which session, from where and in which request', async (t) => {
  const smtp = await startSmtp(t)
  const { app, logs, variant } = await build(t, 'postgres', {
    LOG_LEVEL: 'info',
    // Every request's line, to match the audit lines with (the hot routes' successes are sampled by default).
    ACCESS_LOG_SAMPLE: '1',
    SMTP_URL: smtp.url,
    EMAIL_VERIFICATION: 'optional',
    REFRESH_REUSE_INTERVAL: '5'
  })
  const secrets = new Set<string>([PASSWORD, NEW_PASSWORD])
  const keep = (...values: Array<string | undefined>) => {
    for (const v of values) if (v) secrets.add(v)
  }
  const seen = new Map<string, number>()

  /** Calls the API as the test's client; the audit lines the call wrote (and checks their common fields). */
  const act = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, opts: { body?: unknown; access?: string; on?: FastifyInstance } = {}) => {
    const from = logs.length
    const { on = app, ...rest } = opts
    const res = await call(on, method, url, { ...rest, headers: { 'user-agent': UA } })
    // Mail goes out after the answer: let it, so its lines (if any) are in the log too.
    await new Promise((resolve) => setImmediate(resolve))
    const written = logs.slice(from)
    const audit = written.filter((l) => l.audit === true)
    const request = written.find((l) => l.msg === 'request completed')
    for (const line of audit) {
      t.equal(line.reqId, request?.reqId, `${line.event} ${line.outcome}: the request's id`)
      t.equal(line.ip, IP)
      t.equal(line.user_agent, UA)
      seen.set(`${line.event}:${line.outcome}`, (seen.get(`${line.event}:${line.outcome}`) ?? 0) + 1)
    }
    return { res, audit }
  }
  /** Exactly one audit line, with these fields. */
  const one = (t: Test, audit: Line[], fields: Line) => {
    t.equal(audit.length, 1, `one audit line for ${fields.event} ${fields.outcome}`)
    t.match(audit[0], { audit: true, ...fields })
  }
  const json = (res: LightMyRequestResponse) => res.json() as Record<string, any>

  // register
  const username = uniqueName('audit')
  const email = `${username}@example.com`
  let { res, audit } = await act('POST', '/api/auth/register/', { body: { username, email, password: PASSWORD } })
  t.equal(res.statusCode, 201)
  const userId = json(res).id as string
  let access = json(res).tokens.access as string
  const refresh = json(res).tokens.refresh as string
  keep(access, refresh)
  one(t, audit, { event: 'register', outcome: 'success', user_id: userId, sid: claims(refresh).sid })

  // login: success and every failure cause
  ;({ res, audit } = await act('POST', '/api/auth/login/', { body: { username, password: PASSWORD } }))
  keep(json(res).access, json(res).refresh)
  one(t, audit, { event: 'login', outcome: 'success', user_id: userId, sid: claims(json(res).refresh).sid })
  ;({ audit } = await act('POST', '/api/auth/login/', { body: { username, password: 'Wr0ng-Passphrase!' } }))
  keep('Wr0ng-Passphrase!')
  one(t, audit, { event: 'login', outcome: 'wrong_password', user_id: userId, sid: null })
  ;({ audit } = await act('POST', '/api/token/', { body: { username: `nobody-${username}`, password: PASSWORD } }))
  one(t, audit, { event: 'login', outcome: 'unknown_user', user_id: null })

  // refresh: rotated, grace (the old token again, in the interval), reuse (an older one), revoked, unknown
  const sid = claims(refresh).sid
  ;({ res, audit } = await act('POST', '/api/token/refresh/', { body: { refresh } }))
  const r1 = json(res).refresh as string
  keep(r1, json(res).access)
  one(t, audit, { event: 'refresh', outcome: 'rotated', user_id: userId, sid })
  ;({ res, audit } = await act('POST', '/api/token/refresh/', { body: { refresh } }))
  one(t, audit, { event: 'refresh', outcome: 'grace', user_id: userId, sid })
  ;({ res, audit } = await act('POST', '/api/token/refresh/', { body: { refresh: r1 } }))
  const r2 = json(res).refresh as string
  access = json(res).access as string
  keep(r2, access)
  one(t, audit, { event: 'refresh', outcome: 'rotated', user_id: userId, sid })
  ;({ res, audit } = await act('POST', '/api/token/refresh/', { body: { refresh } }))
  t.equal(res.statusCode, 401)
  one(t, audit, { event: 'refresh', outcome: 'reuse_detected', user_id: userId, sid })
  t.equal(audit[0]?.level, 40, 'reuse is a warning')
  ;({ res, audit } = await act('POST', '/api/token/refresh/', { body: { refresh: r2 } }))
  one(t, audit, { event: 'refresh', outcome: 'revoked', user_id: userId, sid })
  ;({ res, audit } = await act('POST', '/api/token/refresh/', { body: { refresh: 'not-a-token' } }))
  one(t, audit, { event: 'refresh', outcome: 'unknown', user_id: null, sid: null })

  // sessions: logout, one revoked from the list, logout-all
  const fresh = async () => {
    const { res } = await act('POST', '/api/auth/login/', { body: { username, password: PASSWORD } })
    keep(json(res).access, json(res).refresh)
    return json(res) as { access: string; refresh: string }
  }
  const a = await fresh()
  const b = await fresh()
  const c = await fresh()
  ;({ audit } = await act('POST', '/api/auth/logout/', { body: { refresh: a.refresh }, access: a.access }))
  one(t, audit, { event: 'logout', outcome: 'success', user_id: userId, sid: claims(a.refresh).sid })
  ;({ res, audit } = await act('DELETE', `/api/auth/sessions/${claims(b.refresh).sid}/`, { access: c.access }))
  t.equal(res.statusCode, 204)
  one(t, audit, { event: 'session_revoked', outcome: 'success', user_id: userId, sid: claims(b.refresh).sid })
  ;({ audit } = await act('POST', '/api/auth/logout/all/', { body: { except_current: true }, access: c.access }))
  one(t, audit, { event: 'logout_all', outcome: 'success', user_id: userId, sid: claims(c.refresh).sid })
  t.type(audit[0]?.sessions, 'number')

  // password change: a wrong old password, then the change
  ;({ audit } = await act('POST', '/api/auth/password/change/', {
    body: { old_password: 'Wr0ng-Passphrase!', new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD },
    access: c.access
  }))
  one(t, audit, { event: 'password_changed', outcome: 'wrong_password', user_id: userId, sid: claims(c.refresh).sid })
  ;({ res, audit } = await act('POST', '/api/auth/password/change/', {
    body: { old_password: PASSWORD, new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD },
    access: c.access
  }))
  t.equal(res.statusCode, 200)
  one(t, audit, { event: 'password_changed', outcome: 'success', user_id: userId, sid: claims(c.refresh).sid })

  // password reset: requested (known and unknown address), a bad link, the link used
  ;({ audit } = await act('POST', '/api/auth/password/reset/', { body: { email: `nobody-${email}` } }))
  one(t, audit, { event: 'password_reset_requested', outcome: 'no_account', user_id: null })
  ;({ audit } = await act('POST', '/api/auth/password/reset/', { body: { email } }))
  one(t, audit, { event: 'password_reset_requested', outcome: 'sent', user_id: userId })
  const resetMail = await smtp.next((m) => (m.text ?? '').includes('reset/?uid='))
  const link = /reset\/\?uid=([^&\s]+)&token=([^\s"<]+)/.exec(resetMail.text ?? '')!
  const [uid, token] = [decodeURIComponent(link[1]!), decodeURIComponent(link[2]!)]
  keep(token, link[0], resetMail.text, String(resetMail.html))
  ;({ audit } = await act('POST', '/api/auth/password/reset/confirm/', { body: { uid, token: `${token}x`, new_password1: PASSWORD, new_password2: PASSWORD } }))
  one(t, audit, { event: 'password_reset_completed', outcome: 'invalid_link', user_id: userId })
  ;({ res, audit } = await act('POST', '/api/auth/password/reset/confirm/', { body: { uid, token, new_password1: PASSWORD, new_password2: PASSWORD } }))
  t.equal(res.statusCode, 200)
  one(t, audit, { event: 'password_reset_completed', outcome: 'success', user_id: userId })

  // e-mail verification: the key of the mail sent at register, and a bad one
  const verifyMail = await smtp.next((m) => (m.text ?? '').includes('verify/?key='))
  const key = decodeURIComponent(/verify\/\?key=([^\s"<]+)/.exec(verifyMail.text ?? '')![1]!)
  keep(key, verifyMail.text, String(verifyMail.html))
  ;({ audit } = await act('POST', '/api/auth/registration/verify-email/', { body: { key: `${key}x` } }))
  one(t, audit, { event: 'email_verified', outcome: 'invalid_key', user_id: userId })
  ;({ res, audit } = await act('POST', '/api/auth/registration/verify-email/', { body: { key } }))
  t.equal(res.statusCode, 200)
  one(t, audit, { event: 'email_verified', outcome: 'success', user_id: userId })

  // account deletion: a wrong password, then the deletion
  const d = await fresh()
  ;({ audit } = await act('DELETE', '/api/auth/me/', { body: { password: 'Wr0ng-Passphrase!' }, access: d.access }))
  one(t, audit, { event: 'account_deleted', outcome: 'wrong_password', user_id: userId, sid: claims(d.refresh).sid })
  ;({ res, audit } = await act('DELETE', '/api/auth/me/', { body: { password: PASSWORD }, access: d.access }))
  t.equal(res.statusCode, 204)
  one(t, audit, { event: 'account_deleted', outcome: 'success', user_id: userId, sid: claims(d.refresh).sid })

  // An inactive account, the login limits, and mandatory verification: apps of their own.
  const strict = await variant({ EMAIL_VERIFICATION: 'mandatory', RATE_LIMIT_ENABLED: 'true', LOGIN_FAILURES_PER_USER_IP: '1' })
  const other = uniqueName('audit')
  t.equal((await call(strict, 'POST', '/api/auth/register/', { body: { username: other, email: `${other}@example.com`, password: PASSWORD } })).statusCode, 201)
  const asStrict = async (body: unknown) => {
    const from = logs.length
    const res = await call(strict, 'POST', '/api/auth/login/', { body, headers: { 'user-agent': UA } })
    const audit = logs.slice(from).filter((l) => l.audit === true)
    for (const line of audit) seen.set(`${line.event}:${line.outcome}`, (seen.get(`${line.event}:${line.outcome}`) ?? 0) + 1)
    return { res, audit }
  }
  ;({ res, audit } = await asStrict({ username: other, password: PASSWORD }))
  t.equal(res.statusCode, 400)
  one(t, audit, { event: 'login', outcome: 'unverified' })
  await asStrict({ username: other, password: 'Wr0ng-Passphrase!' })
  ;({ res, audit } = await asStrict({ username: other, password: 'Wr0ng-Passphrase!' }))
  t.equal(res.statusCode, 429)
  one(t, audit, { event: 'login', outcome: 'throttled' })
  const row = (await app.users.findByLogin(other))!
  await app.users.deactivate(row.id)
  const third = uniqueName('audit')
  t.equal((await call(app, 'POST', '/api/auth/register/', { body: { username: third, email: `${third}@example.com`, password: PASSWORD } })).statusCode, 201)
  const inactive = (await app.users.findByLogin(third))!
  keep(inactive.passwordHash, row.passwordHash)
  await app.users.deactivate(inactive.id)
  ;({ audit } = await act('POST', '/api/auth/login/', { body: { username: third, password: PASSWORD } }))
  one(t, audit, { event: 'login', outcome: 'inactive', user_id: inactive.id })

  // A password check of the signed-in user refused by the failure limit: audited with the caller's session.
  const guarded = await variant({ RATE_LIMIT_ENABLED: 'true', LOGIN_FAILURES_PER_USER_IP: '1' })
  const fourth = uniqueName('audit')
  ;({ res } = await act('POST', '/api/auth/register/', { body: { username: fourth, email: `${fourth}@example.com`, password: PASSWORD }, on: guarded }))
  const g = json(res).tokens as { access: string; refresh: string }
  keep(g.access, g.refresh)
  const wrongChange = { old_password: 'Wr0ng-Passphrase!', new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD }
  ;({ audit } = await act('POST', '/api/auth/password/change/', { body: wrongChange, access: g.access, on: guarded }))
  one(t, audit, { event: 'password_changed', outcome: 'wrong_password', sid: claims(g.refresh).sid })
  ;({ res, audit } = await act('POST', '/api/auth/password/change/', { body: wrongChange, access: g.access, on: guarded }))
  t.equal(res.statusCode, 429)
  one(t, audit, { event: 'password_changed', outcome: 'throttled', sid: claims(g.refresh).sid })
  ;({ res, audit } = await act('DELETE', '/api/auth/me/', { body: { password: PASSWORD }, access: g.access, on: guarded }))
  t.equal(res.statusCode, 429)
  one(t, audit, { event: 'account_deleted', outcome: 'throttled', sid: claims(g.refresh).sid })

  // A refresh that keeps its token (ROTATE_REFRESH_TOKENS=false): 'kept'.
  const keeping = await variant({ ROTATE_REFRESH_TOKENS: 'false' })
  ;({ res } = await act('POST', '/api/auth/login/', { body: { username: fourth, password: PASSWORD }, on: keeping }))
  const k = json(res) as { access: string; refresh: string }
  keep(k.access, k.refresh)
  ;({ res, audit } = await act('POST', '/api/token/refresh/', { body: { refresh: k.refresh }, on: keeping }))
  keep(json(res).access as string)
  one(t, audit, { event: 'refresh', outcome: 'kept', user_id: claims(k.refresh).user_id, sid: claims(k.refresh).sid })

  // Two-factor authentication and passkeys (issue 21): every new event and outcome.
  const at = 1_795_000_000_000
  for (const a of [app, guarded]) a.mfa.now = () => at
  const has = (t: Test, audit: Line[], fields: Line) => t.ok(audit.some((l) => Object.entries(fields).every(([k, v]) => l[k] === v)), `audited: ${fields.event} ${fields.outcome}`)
  const mfaUser = async (on: FastifyInstance) => {
    const name = uniqueName('audit')
    const reg = json((await act('POST', '/api/auth/register/', { body: { username: name, email: `${name}@example.com`, password: PASSWORD }, on })).res)
    const secret = json(await call(on, 'POST', '/api/auth/mfa/totp/setup/', { access: reg.tokens.access, body: {} })).secret as string
    keep(reg.tokens.access, reg.tokens.refresh, secret)
    return { name, id: reg.id as string, access: reg.tokens.access as string, secret, code: (when: number) => TOTP.generate({ ...TOTP_PARAMS, secret: Secret.fromBase32(secret), timestamp: when }) }
  }
  const m = await mfaUser(app)
  ;({ audit } = await act('POST', '/api/auth/mfa/totp/confirm/', { body: { code: '000000' }, access: m.access }))
  one(t, audit, { event: 'mfa_enabled', outcome: 'invalid_code', user_id: m.id })
  ;({ res, audit } = await act('POST', '/api/auth/mfa/totp/confirm/', { body: { code: m.code(at) }, access: m.access }))
  one(t, audit, { event: 'mfa_enabled', outcome: 'success', user_id: m.id })
  const recovery = json(res).recovery_codes as string[]
  keep(...recovery)
  const firstStep = async (on = app) => {
    const r = await act('POST', '/api/auth/login/', { body: { username: m.name, password: PASSWORD }, on })
    keep(json(r.res).ephemeral_token)
    return { ephemeral: json(r.res).ephemeral_token as string, audit: r.audit }
  }
  let step = await firstStep()
  one(t, step.audit, { event: 'login', outcome: 'mfa_required', user_id: m.id, sid: null })
  ;({ audit } = await act('POST', '/api/auth/login/code/', { body: { ephemeral_token: step.ephemeral, code: '000000' } }))
  one(t, audit, { event: 'mfa_challenge', outcome: 'totp_failed', user_id: m.id })
  ;({ audit } = await act('POST', '/api/auth/login/code/', { body: { ephemeral_token: step.ephemeral, code: 'aaaaa-aaaaa' } }))
  one(t, audit, { event: 'mfa_challenge', outcome: 'recovery_code_failed', user_id: m.id })
  app.mfa.now = () => at + 30_000
  ;({ res, audit } = await act('POST', '/api/auth/login/code/', { body: { ephemeral_token: step.ephemeral, code: m.code(at + 30_000) } }))
  has(t, audit, { event: 'mfa_challenge', outcome: 'totp_passed', user_id: m.id })
  has(t, audit, { event: 'login', outcome: 'success', user_id: m.id, sid: claims(json(res).refresh).sid })
  const totpSession = json(res) as { access: string; refresh: string }
  keep(totpSession.access, totpSession.refresh)
  step = await firstStep()
  ;({ res, audit } = await act('POST', '/api/auth/login/code/', { body: { ephemeral_token: step.ephemeral, code: recovery[0] } }))
  has(t, audit, { event: 'mfa_challenge', outcome: 'recovery_code_used', user_id: m.id })
  keep(json(res).access, json(res).refresh)
  ;({ audit } = await act('POST', '/api/auth/login/code/', { body: { ephemeral_token: 'x'.repeat(43), code: '123456' } }))
  one(t, audit, { event: 'mfa_challenge', outcome: 'expired', user_id: null })

  // Step-up, at the start of adding a passkey (the register session signed in with a password only).
  ;({ audit } = await act('POST', '/api/auth/passkeys/register/options/', { body: {}, access: m.access }))
  one(t, audit, { event: 'step_up', outcome: 'refused', user_id: m.id })
  ;({ audit } = await act('POST', '/api/auth/passkeys/register/options/', { body: { code: '000000' }, access: m.access }))
  one(t, audit, { event: 'step_up', outcome: 'failed', user_id: m.id })
  app.mfa.now = () => at + 60_000
  ;({ res, audit } = await act('POST', '/api/auth/passkeys/register/options/', { body: { code: m.code(at + 60_000) }, access: m.access }))
  one(t, audit, { event: 'step_up', outcome: 'passed', user_id: m.id })
  const authenticator = new SoftAuthenticator()
  const attestation = authenticator.register(json(res) as CreationOptions)
  ;({ res, audit } = await act('POST', '/api/auth/passkeys/register/', { body: { credential: attestation }, access: m.access }))
  one(t, audit, { event: 'passkey_added', outcome: 'success', user_id: m.id })
  const passkeyId = json(res).id as string
  ;({ audit } = await act('POST', '/api/auth/passkeys/register/', { body: { credential: attestation }, access: m.access }))
  one(t, audit, { event: 'passkey_added', outcome: 'invalid', user_id: m.id })
  const requestOptions = async () => json(await call(app, 'POST', '/api/auth/passkeys/login/options/', { body: {} })) as RequestOptions
  const assertion = authenticator.assert(await requestOptions())
  ;({ res, audit } = await act('POST', '/api/auth/passkeys/login/', { body: { credential: assertion } }))
  has(t, audit, { event: 'passkey_login', outcome: 'success', user_id: m.id })
  const passkeySession = json(res) as { access: string; refresh: string }
  keep(passkeySession.access, passkeySession.refresh)
  ;({ audit } = await act('POST', '/api/auth/passkeys/login/', { body: { credential: assertion } }))
  one(t, audit, { event: 'passkey_login', outcome: 'failed', user_id: null })
  authenticator.setCounter(0)
  ;({ audit } = await act('POST', '/api/auth/passkeys/login/', { body: { credential: authenticator.assert(await requestOptions()) } }))
  one(t, audit, { event: 'passkey_login', outcome: 'cloned', user_id: null })
  authenticator.setCounter(100)
  step = await firstStep()
  ;({ audit } = await act('POST', '/api/auth/login/code/', { body: { ephemeral_token: step.ephemeral, credential: new SoftAuthenticator().assert(await requestOptions()) } }))
  one(t, audit, { event: 'mfa_challenge', outcome: 'passkey_failed', user_id: m.id })
  ;({ res, audit } = await act('POST', '/api/auth/login/code/', { body: { ephemeral_token: step.ephemeral, credential: authenticator.assert(await requestOptions()) } }))
  has(t, audit, { event: 'mfa_challenge', outcome: 'passkey_passed', user_id: m.id })
  keep(json(res).access, json(res).refresh)
  ;({ audit } = await act('DELETE', `/api/auth/passkeys/${passkeyId}/`, { body: {}, access: passkeySession.access }))
  one(t, audit, { event: 'passkey_removed', outcome: 'success', user_id: m.id })

  // New recovery codes and turning TOTP off: a wrong password, then done (the TOTP session's second factor is recent).
  ;({ audit } = await act('POST', '/api/auth/mfa/recovery-codes/', { body: { password: 'Wr0ng-Passphrase!' }, access: totpSession.access }))
  one(t, audit, { event: 'recovery_codes_regenerated', outcome: 'wrong_password', user_id: m.id })
  ;({ res, audit } = await act('POST', '/api/auth/mfa/recovery-codes/', { body: { password: PASSWORD }, access: totpSession.access }))
  one(t, audit, { event: 'recovery_codes_regenerated', outcome: 'success', user_id: m.id })
  keep(...(json(res).recovery_codes as string[]))
  ;({ audit } = await act('POST', '/api/auth/mfa/totp/disable/', { body: { password: 'Wr0ng-Passphrase!' }, access: totpSession.access }))
  one(t, audit, { event: 'mfa_disabled', outcome: 'wrong_password', user_id: m.id })
  ;({ audit } = await act('POST', '/api/auth/mfa/totp/disable/', { body: { password: PASSWORD }, access: totpSession.access }))
  one(t, audit, { event: 'mfa_disabled', outcome: 'success', user_id: m.id })

  // The failure limit (one failure per client and account on `guarded`): throttled second steps, step-ups and password checks.
  const n = await mfaUser(guarded)
  t.equal((await call(guarded, 'POST', '/api/auth/mfa/totp/confirm/', { body: { code: n.code(at) }, access: n.access })).statusCode, 200)
  const pending = json(await call(guarded, 'POST', '/api/auth/login/', { body: { username: n.name, password: PASSWORD } })).ephemeral_token as string
  keep(pending)
  ;({ audit } = await act('POST', '/api/auth/mfa/totp/disable/', { body: { password: 'Wr0ng-Passphrase!' }, access: n.access, on: guarded }))
  one(t, audit, { event: 'mfa_disabled', outcome: 'wrong_password', user_id: n.id })
  ;({ res, audit } = await act('POST', '/api/auth/mfa/totp/disable/', { body: { password: PASSWORD }, access: n.access, on: guarded }))
  t.equal(res.statusCode, 429)
  one(t, audit, { event: 'mfa_disabled', outcome: 'throttled', user_id: n.id })
  ;({ res, audit } = await act('POST', '/api/auth/mfa/recovery-codes/', { body: { password: PASSWORD }, access: n.access, on: guarded }))
  one(t, audit, { event: 'recovery_codes_regenerated', outcome: 'throttled', user_id: n.id })
  ;({ res, audit } = await act('POST', '/api/auth/email/change/', { body: { new_email: `q-${n.name}@example.com`, password: PASSWORD }, access: n.access, on: guarded }))
  t.equal(res.statusCode, 429)
  one(t, audit, { event: 'email_change_requested', outcome: 'throttled', user_id: n.id })
  ;({ res, audit } = await act('POST', '/api/auth/passkeys/register/options/', { body: { code: '123456' }, access: n.access, on: guarded }))
  t.equal(res.statusCode, 429)
  one(t, audit, { event: 'step_up', outcome: 'throttled', user_id: n.id })
  ;({ res, audit } = await act('POST', '/api/auth/login/code/', { body: { ephemeral_token: pending, code: n.code(at + 30_000) }, on: guarded }))
  t.equal(res.statusCode, 429)
  one(t, audit, { event: 'mfa_challenge', outcome: 'throttled', user_id: n.id })

  // E-mail change: a wrong password, a link sent and followed, followed again, and one that lost to a registration.
  const mover = await register(app)
  keep(mover.access, mover.refresh)
  ;({ audit } = await act('POST', '/api/auth/email/change/', { body: { new_email: `x-${mover.email}`, password: 'Wr0ng-Passphrase!' }, access: mover.access }))
  one(t, audit, { event: 'email_change_requested', outcome: 'wrong_password', user_id: mover.id })
  const changeKey = async (to: string) => {
    const mail = await smtp.next((m) => (m.text ?? '').includes('email/?key=') && JSON.stringify(m.to).includes(to))
    const key = decodeURIComponent(/email\/\?key=([^\s"<]+)/.exec(mail.text ?? '')![1]!)
    keep(key, mail.text, String(mail.html))
    return key
  }
  ;({ audit } = await act('POST', '/api/auth/email/change/', { body: { new_email: `moved-${mover.email}`, password: PASSWORD }, access: mover.access }))
  one(t, audit, { event: 'email_change_requested', outcome: 'sent', user_id: mover.id })
  const moved = await changeKey(`moved-${mover.email}`)
  ;({ audit } = await act('POST', '/api/auth/email/change/confirm/', { body: { key: moved } }))
  one(t, audit, { event: 'email_changed', outcome: 'success', user_id: mover.id })
  ;({ audit } = await act('POST', '/api/auth/email/change/confirm/', { body: { key: moved } }))
  one(t, audit, { event: 'email_changed', outcome: 'invalid_key', user_id: mover.id })
  t.equal((await call(app, 'POST', '/api/auth/email/change/', { body: { new_email: `wanted-${mover.email}`, password: PASSWORD }, access: mover.access })).statusCode, 200)
  const wanted = await changeKey(`wanted-${mover.email}`)
  await register(app, { email: `wanted-${mover.email}` })
  ;({ audit } = await act('POST', '/api/auth/email/change/confirm/', { body: { key: wanted } }))
  one(t, audit, { event: 'email_changed', outcome: 'taken', user_id: mover.id })

  // Administration: each action names the user and the acting admin (actor_id); a refusal, the caller.
  const root = await register(app)
  const staff = await register(app)
  const target = await register(app)
  keep(root.access, root.refresh, staff.access, staff.refresh, target.access, target.refresh)
  await app.users.adminUpdate(root.id, { isStaff: true, isSuperuser: true })
  await app.users.adminUpdate(staff.id, { isStaff: true })
  const by = { user_id: target.id, actor_id: staff.id }
  ;({ audit } = await act('GET', '/api/admin/users/', { access: target.access }))
  one(t, audit, { event: 'admin_denied', outcome: 'not_staff', user_id: target.id })
  ;({ audit } = await act('GET', '/api/admin/users/', { access: staff.access, on: await variant({ ADMIN_REQUIRE_MFA: 'true' }) }))
  one(t, audit, { event: 'admin_denied', outcome: 'mfa_required', user_id: staff.id })
  ;({ audit } = await act('PATCH', `/api/admin/users/${root.id}/`, { body: { first_name: 'x' }, access: staff.access }))
  one(t, audit, { event: 'admin_denied', outcome: 'not_superuser', user_id: root.id, actor_id: staff.id })
  ;({ audit } = await act('PATCH', `/api/admin/users/${target.id}/`, { body: { first_name: 'Audited' }, access: staff.access }))
  one(t, audit, { event: 'admin_user_changed', outcome: 'success', ...by, changes: 'first_name' })
  ;({ audit } = await act('DELETE', `/api/admin/users/${target.id}/sessions/${claims(target.refresh).sid}/`, { access: staff.access }))
  one(t, audit, { event: 'admin_session_revoked', outcome: 'success', ...by, sid: claims(target.refresh).sid })
  ;({ audit } = await act('POST', `/api/admin/users/${target.id}/logout-all/`, { body: {}, access: staff.access }))
  one(t, audit, { event: 'admin_logout_all', outcome: 'success', ...by, sessions: 0 })
  ;({ audit } = await act('POST', `/api/admin/users/${target.id}/password-reset/`, { body: {}, access: staff.access }))
  one(t, audit, { event: 'admin_password_reset', outcome: 'sent', ...by })
  keep((await smtp.next((m) => JSON.stringify(m.to).includes(target.email))).text)
  ;({ audit } = await act('POST', `/api/admin/users/${target.id}/mfa/reset/`, { body: {}, access: staff.access }))
  one(t, audit, { event: 'admin_mfa_reset', outcome: 'success', ...by })
  ;({ audit } = await act('DELETE', `/api/admin/users/${target.id}/`, { access: staff.access }))
  one(t, audit, { event: 'admin_user_deleted', outcome: 'success', ...by })

  // Every event of the list was seen, with every outcome.
  for (const [event, outcomes] of Object.entries(AUDIT_EVENTS)) {
    for (const outcome of outcomes) t.ok(seen.has(`${event}:${outcome}`), `${event} ${outcome} was audited`)
  }

  // No secret anywhere in the log: tokens, passwords, hashes, links and mail bodies.
  const text = logs.map((l) => JSON.stringify(l)).join('\n')
  t.ok(logs.filter((l) => l.audit === true).length >= 30, 'the audit lines were captured')
  for (const secret of secrets) {
    // Mail bodies are checked line by line (a body's lines are long enough to be specific).
    const parts = secret.includes('\n') ? secret.split('\n').filter((p) => p.trim().length >= 20) : [secret]
    for (const part of parts) t.notOk(text.includes(part), `not in the log: ${part.slice(0, 24)}…`)
  }
  t.notOk(/\$2[aby]\$/.test(text), 'no bcrypt hash')
})
