// E-mail verification in both modes, with the mail received by a real SMTP server: optional (the
// default: a link at register, email_verified once followed), mandatory (no session until then),
// none (no mail); the key works exactly once; resend tells nothing about which addresses exist.
import t from 'tap'
import type { ParsedMail } from 'mailparser'
import { build, get, MODES, PASSWORD, post, uniqueName } from '../../helper.js'
import { startSmtp, type TestSmtp } from '../../support/smtp.js'

const OK = { detail: 'ok' }
const NOT_FOUND = { detail: 'Not found.' }

function verifyKey (mail: ParsedMail): string {
  const match = /http:\/\/127\.0\.0\.1:8000\/account\/verify\/\?key=([^\s"<]+)/.exec(mail.text ?? '')
  if (!match) throw new Error(`no verification link in: ${mail.text}`)
  return decodeURIComponent(match[1]!)
}
const mailTo = (smtp: TestSmtp, to: string) => smtp.next((m) => JSON.stringify(m.to ?? '').includes(to))
const newUser = () => {
  const username = uniqueName('v')
  return { username, email: `${username}@example.com`, password: PASSWORD }
}
for (const mode of MODES) {
  t.test(`e-mail verification: optional (${mode})`, async (t) => {
    const smtp = await startSmtp(t)
    const { app } = await build(t, mode, { SMTP_URL: smtp.url, EMAIL_VERIFICATION: 'optional' })

    t.test('register sends a link; following it once sets email_verified', async (t) => {
      const fields = newUser()
      const res = await post(app, '/api/auth/register/', fields)
      t.equal(res.statusCode, 201)
      const body = res.json()
      t.equal(body.email_verified, false)
      t.ok(body.tokens.access, 'optional: the session starts at once')
      const mail = await mailTo(smtp, fields.email)
      t.match(mail.subject, /verif|confirm/i)
      t.match(mail.text, /3 days/, 'the link says how long it works')
      const key = verifyKey(mail)
      const ok = await post(app, '/api/auth/registration/verify-email/', { key })
      t.equal(ok.statusCode, 200)
      t.same(ok.json(), OK)
      t.equal((await get(app, '/api/auth/me/', body.tokens.access)).json().email_verified, true)
      t.equal((await post(app, '/api/auth/login/', { username: fields.username, password: PASSWORD })).json().user.email_verified, true)
      const again = await post(app, '/api/auth/registration/verify-email/', { key })
      t.equal(again.statusCode, 404, 'a key works once')
      t.same(again.json(), NOT_FOUND)
    })

    t.test('404 for a key that is unknown or altered; 400 without one', async (t) => {
      const fields = newUser()
      await post(app, '/api/auth/register/', fields)
      const key = verifyKey(await mailTo(smtp, fields.email))
      const [uid, stamp, mac] = key.split('.')
      for (const bad of ['nonsense', `${uid}.${stamp}.${mac!.slice(1)}x`, `${uid}.${(parseInt(stamp!, 36) + 1).toString(36)}.${mac}`, `${Buffer.from('someone-else').toString('base64url')}.${stamp}.${mac}`, 'a.b.c', '...']) {
        const res = await post(app, '/api/auth/registration/verify-email/', { key: bad })
        t.equal(res.statusCode, 404, bad)
        t.same(res.json(), NOT_FOUND)
      }
      t.same((await post(app, '/api/auth/registration/verify-email/', {})).json(), { key: ['This field is required.'] })
      t.equal((await post(app, '/api/auth/registration/verify-email/', { key })).statusCode, 200, 'the real key still works')
    })

    t.test('resend: a new link for an unverified address; the same answer and no mail otherwise', async (t) => {
      const fields = newUser()
      await post(app, '/api/auth/register/', fields)
      const first = verifyKey(await mailTo(smtp, fields.email))
      const res = await post(app, '/api/auth/registration/resend-email/', { email: fields.email.toUpperCase() })
      t.equal(res.statusCode, 200)
      t.same(res.json(), OK)
      const second = verifyKey(await mailTo(smtp, fields.email))
      t.equal((await post(app, '/api/auth/registration/verify-email/', { key: second })).statusCode, 200)
      t.equal((await post(app, '/api/auth/registration/verify-email/', { key: first })).statusCode, 404, 'the older link is used up too')

      const before = smtp.messages.length
      t.same((await post(app, '/api/auth/registration/resend-email/', { email: fields.email })).json(), OK, 'already verified')
      t.same((await post(app, '/api/auth/registration/resend-email/', { email: `${uniqueName('nobody')}@example.com` })).json(), OK, 'unknown')
      const marker = newUser()
      await post(app, '/api/auth/register/', marker)
      await mailTo(smtp, marker.email)
      t.equal(smtp.messages.length, before + 1, 'only the new registration got mail')
      t.same((await post(app, '/api/auth/registration/resend-email/', { email: 'nope' })).json(), { email: ['Enter a valid email address.'] })
    })
  })

  t.test(`e-mail verification: mandatory (${mode})`, async (t) => {
    const smtp = await startSmtp(t)
    const { app } = await build(t, mode, { SMTP_URL: smtp.url, EMAIL_VERIFICATION: 'mandatory' })
    const fields = newUser()
    const res = await post(app, '/api/auth/register/', fields)
    t.equal(res.statusCode, 201)
    const body = res.json()
    t.same(Object.keys(body).sort(), ['detail', 'email', 'email_verified', 'first_name', 'id', 'last_name', 'username'], 'no tokens')
    t.equal(body.detail, 'Verification e-mail sent.')
    const key = verifyKey(await mailTo(smtp, fields.email))

    for (const url of ['/api/auth/login/', '/api/token/']) {
      const early = await post(app, url, { username: fields.username, password: PASSWORD })
      t.equal(early.statusCode, 400, `${url} before the link`)
      t.same(early.json(), { non_field_errors: ['E-mail is not verified.'] })
      const wrong = await post(app, url, { username: fields.username, password: 'wrong-password' })
      t.equal(wrong.statusCode, 401, 'a wrong password says nothing about verification')
    }
    t.equal((await post(app, '/api/auth/registration/verify-email/', { key })).statusCode, 200)
    const login = await post(app, '/api/auth/login/', { username: fields.username, password: PASSWORD })
    t.equal(login.statusCode, 200)
    t.equal(login.json().user.email_verified, true)
  })
}

t.test('e-mail verification: none sends nothing', async (t) => {
  const smtp = await startSmtp(t)
  const { app } = await build(t, 'embedded', { SMTP_URL: smtp.url, EMAIL_VERIFICATION: 'none' })
  const fields = newUser()
  const res = await post(app, '/api/auth/register/', fields)
  t.equal(res.statusCode, 201)
  t.ok(res.json().tokens)
  t.same((await post(app, '/api/auth/registration/resend-email/', { email: fields.email })).json(), OK)
  // A password reset mail sent afterwards arrives first: nothing else was sent.
  await post(app, '/api/auth/password/reset/', { email: fields.email })
  const mail = await smtp.next()
  t.match(mail.text, /reset\/\?uid=/)
  t.equal(smtp.messages.length, 1)
})

t.test('a verification link expires after EMAIL_VERIFY_TIMEOUT', async (t) => {
  const smtp = await startSmtp(t)
  const { app } = await build(t, 'embedded', { SMTP_URL: smtp.url, EMAIL_VERIFICATION: 'optional', EMAIL_VERIFY_TIMEOUT: '1' })
  const fields = newUser()
  await post(app, '/api/auth/register/', fields)
  const key = verifyKey(await smtp.next())
  await new Promise((resolve) => setTimeout(resolve, 2100))
  t.same((await post(app, '/api/auth/registration/verify-email/', { key })).json(), NOT_FOUND)
})

t.test('resend is throttled per address and per IP like password reset', async (t) => {
  const { app } = await build(t, 'postgres', { RATE_LIMIT_ENABLED: 'true', PASSWORD_RESETS_PER_EMAIL: '1', PASSWORD_RESETS_PER_IP: '10' })
  const email = `${uniqueName('nobody')}@example.com`
  t.equal((await post(app, '/api/auth/registration/resend-email/', { email })).statusCode, 200)
  t.equal((await post(app, '/api/auth/registration/resend-email/', { email })).statusCode, 429)
  t.equal((await post(app, '/api/auth/password/reset/', { email })).statusCode, 200, 'counted apart from password reset')
})
