// Password reset by e-mail, in both modes, with the mail received by a real SMTP server: the
// link's uid and token work exactly once, die with a login, a password change or their timeout,
// and the answer tells nothing about which addresses exist (body, status, throttling, time).
import t from 'tap'
import type { ParsedMail } from 'mailparser'
import { build, get, login, MODES, PASSWORD, post, register, uniqueName } from '../../helper.js'
import { startSmtp } from '../../support/smtp.js'
import { compareTimings } from '../../support/timing.js'

const NEW_PASSWORD = 'An0ther-Passphrase!'
const SENT = { detail: 'Password reset e-mail has been sent.' }
const DONE = { detail: 'Password has been reset with the new password.' }
const INVALID_TOKEN = { token: ['Invalid value'] }

/** The uid and token of the reset link in a message (text and HTML bodies carry the same link). */
function resetLink (mail: ParsedMail) {
  const match = /http:\/\/127\.0\.0\.1:8000\/account\/reset\/\?uid=([^&\s]+)&token=([^\s"<]+)/.exec(mail.text ?? '')
  if (!match) throw new Error(`no reset link in: ${mail.text}`)
  return { uid: decodeURIComponent(match[1]!), token: decodeURIComponent(match[2]!), link: match[0] }
}
/** The few entities Mustache writes (it escapes & < > " ' / ` =). */
const unescapeHtml = (html: string) =>
  html.replace(/&(amp|lt|gt|quot|#39|#x2F|#x60|#x3D);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x2F': '/', '#x60': '`', '#x3D': '=' })[e]!)
const confirm = (link: { uid: string; token: string }, p1 = NEW_PASSWORD, p2 = p1) => ({ uid: link.uid, token: link.token, new_password1: p1, new_password2: p2 })

for (const mode of MODES) {
  t.test(`password reset (${mode})`, async (t) => {
    const smtp = await startSmtp(t)
    const { app } = await build(t, mode, { SMTP_URL: smtp.url, EMAIL_FROM: 'Auth <auth@example.com>' })
    const mailTo = (to: string) => smtp.next((m) => m.to !== undefined && JSON.stringify(m.to).includes(to))
    const requestReset = async (email: string) => {
      const res = await post(app, '/api/auth/password/reset/', { email })
      t.equal(res.statusCode, 200)
      t.same(res.json(), SENT)
      return res
    }

    t.test('the link works once: the password is set and every session revoked', async (t) => {
      const user = await register(app)
      const other = await login(app, user.username)
      await requestReset(user.email.toUpperCase())
      const mail = await mailTo(user.email)
      t.match(mail.subject, /password/i)
      t.match(mail.from?.text, /^"?Auth"? <auth@example\.com>$/)
      const link = resetLink(mail)
      t.ok(unescapeHtml(String(mail.html)).includes(link.link), 'the HTML body carries the same link')
      t.match(mail.text, /1 hour/, 'and says how long it works')
      t.match(mail.text, user.username)

      const res = await post(app, '/api/auth/password/reset/confirm/', confirm(link))
      t.equal(res.statusCode, 200)
      t.same(res.json(), DONE)
      for (const s of [user, other]) {
        t.equal((await get(app, '/api/protected-endpoint/', s.access)).statusCode, 401, 'every session is revoked')
        t.equal((await post(app, '/api/token/refresh/', { refresh: s.refresh })).statusCode, 401)
      }
      t.equal((await post(app, '/api/auth/login/', { username: user.username, password: PASSWORD })).statusCode, 401)
      const again = await post(app, '/api/auth/password/reset/confirm/', confirm(link, 'Thi3d-Passphrase!'))
      t.equal(again.statusCode, 400, 'a second use')
      t.same(again.json(), INVALID_TOKEN)
      t.equal((await post(app, '/api/auth/login/', { username: user.username, password: NEW_PASSWORD })).statusCode, 200)
    })

    t.test('an address no active account has: the same answer and no mail', async (t) => {
      const inactive = await register(app)
      await app.users.deactivate(inactive.id)
      // The security notice of the reset above (sent after its answer) is in before counting.
      await app.notify.settled()
      const before = smtp.messages.length
      const nobody = `${uniqueName('nobody')}@example.com`
      await requestReset(nobody)
      await requestReset(inactive.email)
      // A known address sent meanwhile arrives; the two above never do.
      const known = await register(app)
      await requestReset(known.email)
      await mailTo(known.email)
      t.equal(smtp.messages.length, before + 1, 'only the active account got a message')
      const to = (address: string) => smtp.messages.filter((m) => JSON.stringify(m.to ?? '').includes(address)).length
      t.equal(to(nobody) + to(inactive.email), 0, 'none to the unknown or the inactive address')
    })

    t.test('400 for a missing or malformed email', async (t) => {
      t.same((await post(app, '/api/auth/password/reset/', {})).json(), { email: ['This field is required.'] })
      for (const email of ['not-an-email', '']) {
        const res = await post(app, '/api/auth/password/reset/', { email })
        t.equal(res.statusCode, 400)
        t.same(res.json(), { email: [email === '' ? 'This field may not be blank.' : 'Enter a valid email address.'] })
      }
    })

    t.test('confirm: 400 for a bad uid or token, mismatched or refused passwords; nothing changes', async (t) => {
      const user = await register(app)
      await requestReset(user.email)
      const link = resetLink(await mailTo(user.email))
      const stranger = await register(app)
      const cases: Array<[unknown, Record<string, string[]>]> = [
        [confirm({ ...link, uid: 'bm90LWEtdXNlcg' }), { uid: ['Invalid value'] }],
        [confirm({ ...link, uid: '!!!' }), { uid: ['Invalid value'] }],
        [confirm({ ...link, uid: Buffer.from(stranger.id).toString('base64url') }), INVALID_TOKEN],
        [confirm({ ...link, token: link.token.slice(0, -1) + (link.token.endsWith('0') ? '1' : '0') }), INVALID_TOKEN],
        [confirm({ ...link, token: 'zzzzzzzzzzzzzz-abc' }), INVALID_TOKEN],
        [confirm(link, NEW_PASSWORD, NEW_PASSWORD + 'x'), { new_password2: ['The two password fields didn\u2019t match.'] }],
        [confirm(link, 'password'), { new_password2: ['This password is too common.'] }],
        [confirm(link, user.username + '9'), { new_password2: ['The password is too similar to the username.'] }],
        [{ uid: link.uid }, { token: ['This field is required.'], new_password1: ['This field is required.'], new_password2: ['This field is required.'] }]
      ]
      for (const [body, errors] of cases) {
        const res = await post(app, '/api/auth/password/reset/confirm/', body)
        t.equal(res.statusCode, 400, JSON.stringify(body))
        t.same(res.json(), errors)
      }
      t.equal((await get(app, '/api/protected-endpoint/', user.access)).statusCode, 200, 'no session was revoked')
      t.equal((await post(app, '/api/auth/password/reset/confirm/', confirm(link))).statusCode, 200, 'and the link still works')
    })

    t.test('the link dies as soon as the user logs in, or the password changes', async (t) => {
      const user = await register(app)
      await requestReset(user.email)
      const first = resetLink(await mailTo(user.email))
      await new Promise((resolve) => setTimeout(resolve, 5)) // a later last_login than the token's
      await login(app, user.username)
      t.same((await post(app, '/api/auth/password/reset/confirm/', confirm(first))).json(), INVALID_TOKEN, 'a login')

      await requestReset(user.email)
      const second = resetLink(await mailTo(user.email))
      const refreshed = await post(app, '/api/token/refresh/', { refresh: user.refresh })
      t.equal(refreshed.statusCode, 200)
      const changed = await post(app, '/api/auth/password/change/', { old_password: PASSWORD, new_password1: NEW_PASSWORD, new_password2: NEW_PASSWORD }, user.access)
      t.equal(changed.statusCode, 200)
      t.same((await post(app, '/api/auth/password/reset/confirm/', confirm(second, 'Thi3d-Passphrase!'))).json(), INVALID_TOKEN, 'a password change')
    })

    t.test('a delivery that fails is counted and logged; the answer is the same', async (t) => {
      const user = await register(app)
      const failed = app.mail.stats.failed['password-reset']
      smtp.rejectNext(1)
      await requestReset(user.email)
      for (let i = 0; i < 100 && app.mail.stats.failed['password-reset'] === failed; i++) await new Promise((resolve) => setTimeout(resolve, 50))
      t.equal(app.mail.stats.failed['password-reset'], failed + 1)
      // The next one goes through.
      await requestReset(user.email)
      t.ok(resetLink(await mailTo(user.email)).token)
    })
  })
}

t.test('the link expires after PASSWORD_RESET_TIMEOUT', async (t) => {
  const smtp = await startSmtp(t)
  const { app } = await build(t, 'embedded', { SMTP_URL: smtp.url, PASSWORD_RESET_TIMEOUT: '1' })
  const user = await register(app)
  await post(app, '/api/auth/password/reset/', { email: user.email })
  const mail = await smtp.next()
  t.match(mail.text, /1 second/)
  await new Promise((resolve) => setTimeout(resolve, 2100))
  t.same((await post(app, '/api/auth/password/reset/confirm/', confirm(resetLink(mail)))).json(), INVALID_TOKEN)
})

t.test('racing confirmations of one link: exactly one sets its password', async (t) => {
  const smtp = await startSmtp(t)
  const { app } = await build(t, 'postgres', { SMTP_URL: smtp.url })
  const user = await register(app)
  await post(app, '/api/auth/password/reset/', { email: user.email })
  const link = resetLink(await smtp.next())
  const passwords = Array.from({ length: 5 }, (_, i) => `Racing-Passphrase-${i}!`)
  const results = await Promise.all(passwords.map((p) => post(app, '/api/auth/password/reset/confirm/', confirm(link, p))))
  t.same(results.map((r) => r.statusCode).sort(), [200, 400, 400, 400, 400])
  for (const r of results.filter((r) => r.statusCode === 400)) t.same(r.json(), INVALID_TOKEN)
  const winner = passwords[results.findIndex((r) => r.statusCode === 200)]!
  t.equal((await post(app, '/api/auth/login/', { username: user.username, password: winner })).statusCode, 200)
})

t.test('throttled per email address and per IP, alike for every address', async (t) => {
  const smtp = await startSmtp(t)
  const { app } = await build(t, 'postgres', { SMTP_URL: smtp.url, RATE_LIMIT_ENABLED: 'true', PASSWORD_RESETS_PER_EMAIL: '2', PASSWORD_RESETS_PER_IP: '6' })
  const user = await register(app)
  const from = (email: string, ip: string) => app.inject({ method: 'POST', url: '/api/auth/password/reset/', payload: { email }, remoteAddress: ip })
  for (const email of [user.email, `${uniqueName('nobody')}@example.com`]) {
    t.same([(await from(email, '192.0.2.1')).statusCode, (await from(email.toUpperCase(), '192.0.2.1')).statusCode], [200, 200])
    const third = await from(email, '192.0.2.1')
    t.equal(third.statusCode, 429, `the third for ${email === user.email ? 'a known' : 'an unknown'} address`)
    t.match(third.json().detail, /^Request was throttled\. Expected available in \d+ seconds\.$/)
    t.ok(Number(third.headers['retry-after']) > 3000)
  }
  // Six requests from 192.0.2.1 so far: its seventh is refused whatever the address.
  t.equal((await from(`${uniqueName('fresh')}@example.com`, '192.0.2.1')).statusCode, 429)
  t.equal((await from(`${uniqueName('fresh')}@example.com`, '192.0.2.2')).statusCode, 200, 'another IP is not')
})

t.test('a known and an unknown address are answered in the same time band', async (t) => {
  const smtp = await startSmtp(t)
  const { app } = await build(t, 'postgres', { SMTP_URL: smtp.url })
  const user = await register(app)
  const unknown = `${uniqueName('nobody')}@example.com`
  const reset = (email: string) => () => app.inject({ method: 'POST', url: '/api/auth/password/reset/', payload: { email } })
  const result = await compareTimings(reset(user.email), reset(unknown))
  t.comment(`known vs unknown: ${result.summary}`)
  t.ok(result.same, `same band: ${result.summary}`)
  t.ok(smtp.messages.length >= 30 || (await smtp.next()), 'the known address did get its messages')
  // The comparison can fail: a path that waits 25 ms more (an awaited delivery would) is told apart.
  const slower = await compareTimings(reset(unknown), async () => {
    await reset(unknown)()
    await new Promise((resolve) => setTimeout(resolve, 25))
  }, 10)
  t.notOk(slower.same, `a 25 ms difference is seen: ${slower.summary}`)
})
