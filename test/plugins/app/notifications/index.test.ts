// Security notifications over a real SMTP server: each event API.md lists mails the user once,
// with its subject, to the right address (the e-mail change's goes to the old one, in
// routes/auth/email-change.test.ts), and no notice holds a token, a key or a link that signs in;
// NOTIFY_EVENTS leaves out what it does not list; an unknown name stops the start.
import t, { type Test } from 'tap'
import type { ParsedMail } from 'mailparser'
import { Secret, TOTP } from 'otpauth'
import { build, call, PASSWORD, post, register, type Registered } from '../../../helper.js'
import { startSmtp } from '../../../support/smtp.js'
import { SoftAuthenticator, type CreationOptions, type RequestOptions } from '../../../support/webauthn.js'
import { createLinks } from '../../../../plugins/app/accounts/links.js'
import { TOTP_PARAMS } from '../../../../plugins/app/mfa/index.js'
import { loadConfig } from '../../../../plugins/app/config/index.js'

const NEW_PASSWORD = 'An0ther-Passphrase!'
const SUBJECTS: Record<string, string> = {
  password_changed: 'Your password was changed',
  password_reset: 'Your password was reset',
  mfa_enabled: 'Two-factor authentication was turned on',
  mfa_disabled: 'Two-factor authentication was turned off',
  passkey_added: 'A passkey was added',
  passkey_removed: 'A passkey was removed',
  recovery_codes_regenerated: 'New recovery codes',
  recovery_code_used: 'A recovery code was used',
  session_reuse: 'A device was signed out',
  account_deactivated: 'Your account was deactivated',
  mfa_reset: 'Your two-factor authentication was reset'
}

t.test('each event mails one notice, without a token or a sign-in link', async (t) => {
  const smtp = await startSmtp(t)
  const { app } = await build(t, 'postgres', { SMTP_URL: smtp.url, REFRESH_REUSE_INTERVAL: '0', WEBAUTHN_RP_ID: '127.0.0.1', PUBLIC_URL: 'http://127.0.0.1:8000' })
  const secrets: string[] = []
  const notices: ParsedMail[] = []
  /** The next notice to `user`, with this event's subject. */
  const expect = async (t: Test, user: Registered, event: string) => {
    const mail = await smtp.next((m) => JSON.stringify(m.to ?? '').includes(user.email) && m.subject === SUBJECTS[event])
    notices.push(mail)
    t.pass(`${event}: mailed to ${user.email}`)
    t.match(mail.text, 'When: ')
    t.match(mail.text, 'do not know.\n\nYour signed-in devices: http://127.0.0.1:8000/account/', 'the devices page, on a line of its own')
  }
  const at = Date.now()
  app.mfa.now = () => at
  const codeOf = (secret: string, ms: number) => TOTP.generate({ ...TOTP_PARAMS, secret: Secret.fromBase32(secret), timestamp: ms })

  const user = await register(app)
  secrets.push(user.access, user.refresh)

  // A passkey, added and removed (removed from a session the passkey signed in: a recent second factor).
  const options = await post(app, '/api/auth/passkeys/register/options/', {}, user.access)
  const authenticator = new SoftAuthenticator()
  const added = await post(app, '/api/auth/passkeys/register/', { credential: authenticator.register(options.json() as CreationOptions) }, user.access)
  t.equal(added.statusCode, 201, added.body)
  await expect(t, user, 'passkey_added')
  const assertion = authenticator.assert((await post(app, '/api/auth/passkeys/login/options/', {})).json() as RequestOptions)
  const byPasskey = (await post(app, '/api/auth/passkeys/login/', { credential: assertion })).json() as { access: string }
  secrets.push(byPasskey.access)
  t.equal((await call(app, 'DELETE', `/api/auth/passkeys/${added.json().id}/`, { body: {}, access: byPasskey.access })).statusCode, 204)
  await expect(t, user, 'passkey_removed')

  // TOTP on, new recovery codes, one used to sign in, TOTP off.
  const { secret } = (await post(app, '/api/auth/mfa/totp/setup/', {}, user.access)).json() as { secret: string }
  secrets.push(secret)
  const confirmed = await post(app, '/api/auth/mfa/totp/confirm/', { code: codeOf(secret, at - 30_000) }, user.access)
  t.equal(confirmed.statusCode, 200)
  await expect(t, user, 'mfa_enabled')
  const codes = await post(app, '/api/auth/mfa/recovery-codes/', { password: PASSWORD, code: codeOf(secret, at) }, user.access)
  t.equal(codes.statusCode, 200, codes.body)
  await expect(t, user, 'recovery_codes_regenerated')
  const recovery = (codes.json().recovery_codes as string[])[0]!
  secrets.push(recovery)
  const first = await post(app, '/api/auth/login/', { username: user.username, password: PASSWORD })
  const second = await post(app, '/api/auth/login/code/', { ephemeral_token: first.json().ephemeral_token, code: recovery })
  t.equal(second.statusCode, 200)
  secrets.push(first.json().ephemeral_token, second.json().access, second.json().refresh)
  await expect(t, user, 'recovery_code_used')
  t.equal((await post(app, '/api/auth/mfa/totp/disable/', { password: PASSWORD }, second.json().access)).statusCode, 200)
  await expect(t, user, 'mfa_disabled')

  // The password: changed (from the session that turned TOTP off: the others are gone), then reset by a link.
  t.equal((await post(app, '/api/auth/password/change/', { old_password: PASSWORD, new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD }, second.json().access)).statusCode, 200)
  await expect(t, user, 'password_changed')
  const links = createLinks({ secret: app.config.jwt.signingKey, resetTimeout: app.config.email.resetTimeout, verifyTimeout: app.config.email.verifyTimeout })
  const token = links.resetToken((await app.users.findById(user.id))!)
  secrets.push(token)
  const reset = await post(app, '/api/auth/password/reset/confirm/', { uid: links.uid(user.id), token, new_password1: PASSWORD, new_password2: PASSWORD })
  t.equal(reset.statusCode, 200, reset.body)
  await expect(t, user, 'password_reset')

  // Reuse detection: a rotated refresh token presented again.
  const session = (await post(app, '/api/auth/login/', { username: user.username, password: PASSWORD })).json() as { refresh: string; access: string }
  secrets.push(session.refresh, session.access)
  t.equal((await post(app, '/api/token/refresh/', { refresh: session.refresh })).statusCode, 200)
  t.equal((await post(app, '/api/token/refresh/', { refresh: session.refresh })).statusCode, 401)
  await expect(t, user, 'session_reuse')

  // An administrator: the second factor reset, the account deactivated.
  const admin = await register(app)
  await app.users.adminUpdate(admin.id, { isStaff: true })
  t.equal((await post(app, `/api/admin/users/${user.id}/mfa/reset/`, {}, admin.access)).statusCode, 200)
  await expect(t, user, 'mfa_reset')
  t.equal((await call(app, 'PATCH', `/api/admin/users/${user.id}/`, { body: { is_active: false }, access: admin.access })).statusCode, 200)
  await expect(t, user, 'account_deactivated')

  for (const mail of notices) {
    const body = `${mail.subject}\n${mail.text}\n${mail.html}`
    t.notOk(/key=|token=|uid=|eyJ[A-Za-z0-9_-]+\.eyJ/.test(body), `${mail.subject}: no key, token or sign-in link`)
    for (const s of secrets) t.notOk(body.includes(s), `${mail.subject}: no secret of the flows`)
  }
  t.equal(smtp.messages.filter((m) => JSON.stringify(m.to ?? '').includes(user.email)).length, Object.keys(SUBJECTS).length, 'one notice per event, nothing else')
  // Counted: each of those events once as sent, nothing failed.
  await app.notify.settled()
  const counted = (await app.metrics.registry.getSingleMetric('auth_security_notices_total')!.get()).values
  const count = (event: string, outcome: string) => counted.find((v) => v.labels.event === event && v.labels.outcome === outcome)?.value
  for (const event of Object.keys(SUBJECTS)) t.equal(count(event, 'sent'), 1, `auth_security_notices_total{event="${event}",outcome="sent"}`)
  t.same(counted.filter((v) => v.labels.outcome === 'failed' && v.value !== 0), [], 'none failed')
})

t.test('NOTIFY_EVENTS: only the events it lists are mailed', async (t) => {
  const smtp = await startSmtp(t)
  const { app } = await build(t, 'embedded', { SMTP_URL: smtp.url, NOTIFY_EVENTS: 'password_reset, mfa_reset' })
  const user = await register(app)
  t.equal((await post(app, '/api/auth/password/change/', { old_password: PASSWORD, new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD }, user.access)).statusCode, 200)
  const links = createLinks({ secret: app.config.jwt.signingKey, resetTimeout: app.config.email.resetTimeout, verifyTimeout: app.config.email.verifyTimeout })
  const token = links.resetToken((await app.users.findById(user.id))!)
  t.equal((await post(app, '/api/auth/password/reset/confirm/', { uid: links.uid(user.id), token, new_password1: PASSWORD, new_password2: PASSWORD })).statusCode, 200)
  const mail = await smtp.next((m) => JSON.stringify(m.to ?? '').includes(user.email))
  t.equal(mail.subject, SUBJECTS.password_reset, 'the listed one, and the change before it was not mailed')
  await app.notify.settled()
  t.equal(app.mail.stats.sent['security-notice'], 1)

  // A device check that fails where no notice could be due (a registration; new_device not listed)
  // is not a failed notice: nothing counted.
  app.tokenStore.rememberDevice = () => Promise.reject(new Error('the token store is down'))
  const other = await register(app)
  t.equal((await post(app, '/api/auth/login/', { username: other.username, password: PASSWORD })).statusCode, 200)
  await app.notify.settled()
  const counted = (await app.metrics.registry.getSingleMetric('auth_security_notices_total')!.get()).values
  t.same(counted.filter((v) => v.value !== 0).map((v) => v.labels), [{ event: 'password_reset', outcome: 'sent' }], 'only the notice that was sent')

  t.throws(() => loadConfig({ NODE_ENV: 'test', NOTIFY_EVENTS: 'password_reset,new_dvice' }), /NOTIFY_EVENTS: unknown event new_dvice/)
  t.equal(loadConfig({ NODE_ENV: 'test', NOTIFY_EVENTS: 'none' }).notify.events.size, 0)
  t.equal(loadConfig({ NODE_ENV: 'test' }).notify.events.size, 13, 'all by default')
})

t.test('ACCOUNT_PAGES=false: a notice links nowhere (there is no devices page to point to)', async (t) => {
  const smtp = await startSmtp(t)
  const { app } = await build(t, 'embedded', { SMTP_URL: smtp.url, ACCOUNT_PAGES: 'false', PASSWORD_RESET_URL: 'https://app.example.com/reset/{uid}/{token}', EMAIL_VERIFY_URL: 'https://app.example.com/verify/{key}', EMAIL_CHANGE_URL: 'https://app.example.com/email/{key}' })
  const user = await register(app)
  t.equal((await post(app, '/api/auth/password/change/', { old_password: PASSWORD, new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD }, user.access)).statusCode, 200)
  const mail = await smtp.next((m) => JSON.stringify(m.to ?? '').includes(user.email))
  t.equal(mail.subject, SUBJECTS.password_changed)
  t.notMatch(`${mail.text}${mail.html}`, /https?:|href=/, 'no link at all')
  t.match(mail.text, 'do not know.\n\nThis e-mail tells you')
  t.match(mail.text, 'change your password now and sign out\nthe devices you do not know.')
})

const FIREFOX = 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0'
const FIREFOX_NEXT = 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:134.0) Gecko/20100101 Firefox/134.0'
const CHROME_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'

for (const mode of ['embedded', 'postgres'] as const) {
  t.test(`new device (${mode === 'embedded' ? 'database' : 'Redis'} store): the same browser on the same network is no news; a new browser or network is`, async (t) => {
    const smtp = await startSmtp(t)
    const { app } = await build(t, mode, { SMTP_URL: smtp.url })
    const username = `nd_${Date.now().toString(36)}_${mode}`
    const email = `${username}@example.com`
    const notices = () => smtp.messages.filter((m) => JSON.stringify(m.to ?? '').includes(email))
    const signIn = async (userAgent: string, ip: string) => {
      const res = await app.inject({ method: 'POST', url: '/api/auth/login/', payload: { username, password: PASSWORD }, headers: { 'user-agent': userAgent }, remoteAddress: ip })
      t.equal(res.statusCode, 200)
      await app.notify.settled()
      return notices().length
    }
    const registered = await app.inject({ method: 'POST', url: '/api/auth/register/', payload: { username, email, password: PASSWORD }, headers: { 'user-agent': FIREFOX }, remoteAddress: '198.51.100.7' })
    t.equal(registered.statusCode, 201)
    await app.notify.settled()
    t.equal(notices().length, 0, 'none for the registration')
    t.equal(await signIn(FIREFOX, '198.51.100.7'), 0, 'the first sign-in after register, from its device: none')
    t.equal(await signIn(FIREFOX_NEXT, '198.51.100.200'), 0, 'a browser update, the same /24: the same device')
    t.equal(await signIn(CHROME_MAC, '198.51.100.7'), 1, 'another browser: a notice')
    const mail = notices()[0]!
    t.equal(mail.subject, 'New sign-in to your account')
    t.match(mail.text, 'Device: Chrome on Mac OS')
    t.match(mail.text, 'Address: 198.51.100.7')
    t.notOk(/key=|token=|uid=|eyJ[A-Za-z0-9_-]+\.eyJ/.test(`${mail.text}${mail.html}`), 'no token or sign-in link')
    t.equal(await signIn(CHROME_MAC, '198.51.100.8'), 1, 'and then it is known')
    t.equal(await signIn(FIREFOX, '203.0.113.5'), 2, 'another network: a notice')
    t.equal(await signIn(FIREFOX, '203.0.113.99'), 2)
    t.equal(await signIn(FIREFOX, '2001:db8:1:2::1'), 3, 'IPv6')
    t.equal(await signIn(FIREFOX, '2001:db8:1:ffff::9'), 3, 'the same /48')
    t.equal(await signIn(FIREFOX, '::ffff:203.0.113.7'), 3, 'an IPv4-mapped address is its IPv4')

    // A deleted account's device history goes with it, whoever deletes it (the store asked directly).
    const { deviceOf } = await import('../../../../plugins/app/notifications/devices.js')
    const known = deviceOf(FIREFOX, '203.0.113.5').fingerprint
    const access = (await app.inject({ method: 'POST', url: '/api/auth/login/', payload: { username, password: PASSWORD } })).json().access
    t.equal((await call(app, 'DELETE', '/api/auth/me/', { body: { password: PASSWORD }, access })).statusCode, 204)
    await app.notify.settled()
    t.equal(await app.tokenStore.rememberDevice(registered.json().id, known), false, 'self-deletion: the device history is gone')
    const other = await register(app)
    const admin = await register(app)
    await app.users.adminUpdate(admin.id, { isStaff: true })
    await app.notify.settled()
    t.equal(await app.tokenStore.rememberDevice(other.id, deviceOf('lightMyRequest', '127.0.0.1').fingerprint), true, 'its registration device is known')
    t.equal((await call(app, 'DELETE', `/api/admin/users/${other.id}/`, { body: {}, access: admin.access })).statusCode, 204)
    await app.notify.settled()
    t.equal(await app.tokenStore.rememberDevice(other.id, deviceOf('lightMyRequest', '127.0.0.1').fingerprint), false, 'deletion by an admin: gone too')
    t.equal(await app.tokenStore.rememberDevice(admin.id, deviceOf('lightMyRequest', '127.0.0.1').fingerprint), true, "another user's history stays")
  })
}

t.test('networks and devices', async (t) => {
  const { networkOf, deviceOf } = await import('../../../../plugins/app/notifications/devices.js')
  t.equal(networkOf('198.51.100.7'), '198.51.100.0/24')
  t.equal(networkOf('::ffff:198.51.100.7'), '198.51.100.0/24')
  t.equal(networkOf('2001:db8:1:2::1'), '2001:db8:1::/48')
  t.equal(networkOf('2001:0db8:0001:0002:0000:0000:0000:0001'), '2001:db8:1::/48')
  t.equal(networkOf('::1'), '0:0:0::/48')
  t.equal(deviceOf(FIREFOX, '198.51.100.7').label, 'Firefox on Ubuntu')
  t.equal(deviceOf(FIREFOX, '198.51.100.7').fingerprint, deviceOf(FIREFOX_NEXT, '198.51.100.9').fingerprint)
  t.not(deviceOf(FIREFOX, '198.51.100.7').fingerprint, deviceOf(CHROME_MAC, '198.51.100.7').fingerprint)
  t.equal(deviceOf('', '').label, 'an unknown browser on an unknown system')
  t.notOk(deviceOf(FIREFOX, '198.51.100.7').fingerprint.includes('198'), 'a hash, not the address')
})
