// Changing the e-mail address over a real SMTP server, in both modes: the request's checks, the
// link to the new address (once, until EMAIL_VERIFY_TIMEOUT, dead once the address changes
// otherwise), the notice to the old address (no token, no link that signs in), and the races: two
// accounts confirming one address, a registration taking it first, one key confirmed twice at once.
import t from 'tap'
import type { ParsedMail } from 'mailparser'
import { build, get, login, PASSWORD, post, register, uniqueName } from '../../helper.js'
import { startSmtp } from '../../support/smtp.js'
import { createLinks } from '../../../plugins/app/accounts/links.js'

const SENT = { detail: 'Verification e-mail sent.' }
const NOT_FOUND = { detail: 'Not found.' }
const TAKEN = { new_email: ['A user with that email already exists.'] }

const keyOf = (mail: ParsedMail) => {
  const match = /http:\/\/127\.0\.0\.1:8000\/account\/email\/\?key=([^\s"<]+)/.exec(mail.text ?? '')
  if (!match) throw new Error(`no change link in: ${mail.text}`)
  return decodeURIComponent(match[1]!)
}

for (const mode of ['embedded', 'postgres'] as const) {
  t.test(`e-mail change (${mode})`, async (t) => {
    const smtp = await startSmtp(t)
    const { app } = await build(t, mode, { SMTP_URL: smtp.url })
    const mailTo = (to: string) => smtp.next((m) => JSON.stringify(m.to ?? '').toLowerCase().includes(to.toLowerCase()))
    const request = async (user: { access: string }, newEmail: string) => {
      const res = await post(app, '/api/auth/email/change/', { new_email: newEmail, password: PASSWORD }, user.access)
      t.equal(res.statusCode, 200, res.body)
      t.same(res.json(), SENT)
      return keyOf(await mailTo(newEmail))
    }
    const confirm = (key: string) => post(app, '/api/auth/email/change/confirm/', { key })

    t.test('the request: password, a valid new address, not the same, not taken; nothing changes until the link', async (t) => {
      const user = await register(app)
      const other = await register(app)
      const wrong = await post(app, '/api/auth/email/change/', { new_email: 'x@example.com', password: 'Wrong-Passphrase!' }, user.access)
      t.equal(wrong.statusCode, 400)
      t.same(wrong.json(), { password: ['Your password was entered incorrectly.'] })
      const invalid = await post(app, '/api/auth/email/change/', { new_email: 'not-an-address', password: PASSWORD }, user.access)
      t.same(invalid.json(), { new_email: ['Enter a valid email address.'] })
      const missing = await post(app, '/api/auth/email/change/', {}, user.access)
      t.same(Object.keys(missing.json()).sort(), ['new_email', 'password'])
      t.same((await post(app, '/api/auth/email/change/', { new_email: user.email.toUpperCase(), password: PASSWORD }, user.access)).json(), { new_email: ['This is already your e-mail address.'] })
      t.same((await post(app, '/api/auth/email/change/', { new_email: ` ${other.email.toUpperCase()} `, password: PASSWORD }, user.access)).json(), TAKEN)
      t.equal((await post(app, '/api/auth/email/change/', { new_email: 'x@example.com', password: PASSWORD })).statusCode, 401)

      const address = `${uniqueName('new')}@example.com`
      await request(user, address)
      t.equal((await get(app, '/api/auth/me/', user.access)).json().email, user.email, 'not yet')
    })

    t.test('the link: the new address, verified; works once; the old address gets a notice without token or sign-in link', async (t) => {
      const user = await register(app)
      const address = `${uniqueName('new')}@Example.COM`
      const key = await request(user, address)
      const res = await confirm(key)
      t.equal(res.statusCode, 200)
      t.match(res.json(), { id: user.id, email: address.replace('Example.COM', 'example.com'), email_verified: true })
      t.equal((await get(app, '/api/auth/me/', user.access)).json().email, res.json().email)
      t.same((await confirm(key)).json(), NOT_FOUND, 'once')
      t.equal((await confirm(key)).statusCode, 404)

      const notice = await mailTo(user.email)
      t.match(notice.subject, 'Your e-mail address was changed')
      t.match(notice.text, res.json().email, 'it names the new address')
      const body = `${notice.text}\n${notice.html}`
      t.notOk(/key=|token=|uid=|eyJ[A-Za-z0-9_-]+\.eyJ/.test(body), 'no key, token or sign-in link')
      t.notOk(body.includes(key))

      t.ok((await login(app, address.toLowerCase())).access, 'signs in with the new address')
      t.equal((await post(app, '/api/auth/login/', { username: user.email, password: PASSWORD })).statusCode, 401, 'not with the old one')
    })

    t.test('a key dies: after EMAIL_VERIFY_TIMEOUT, once the address changed otherwise, or tampered with', async (t) => {
      const user = await register(app)
      const links = createLinks({ secret: app.config.jwt.signingKey, resetTimeout: app.config.email.resetTimeout, verifyTimeout: app.config.email.verifyTimeout })
      const stored = (await app.users.findById(user.id))!
      const old = links.emailChangeKey(stored, `${uniqueName('late')}@example.com`, Date.now() - (app.config.email.verifyTimeout + 5) * 1000)
      t.same((await confirm(old)).json(), NOT_FOUND, 'expired')
      const fresh = links.emailChangeKey(stored, `${uniqueName('fresh')}@example.com`, Date.now() - (app.config.email.verifyTimeout - 60) * 1000)
      const [uid, , stamp, mac] = fresh.split('.')
      t.same((await confirm([uid, Buffer.from('attacker@example.com').toString('base64url'), stamp, mac].join('.'))).json(), NOT_FOUND, 'another address under the same signature')

      const first = await request(user, `${uniqueName('a')}@example.com`)
      const second = await request(user, `${uniqueName('b')}@example.com`)
      t.equal((await confirm(first)).statusCode, 200)
      t.same((await confirm(second)).json(), NOT_FOUND, 'made for the address that is gone')
      t.equal((await confirm(fresh)).statusCode, 404)
      for (const junk of ['x', 'a.b.c.d', `${uid}.!!.1.x`]) t.equal((await confirm(junk)).statusCode, 404, junk)
    })

    t.test('races: one address, two accounts; a registration first; one key twice at once', async (t) => {
      const address = `${uniqueName('race')}@example.com`
      const [a, b] = [await register(app), await register(app)]
      const [keyA, keyB] = [await request(a, address), await request(b, address)]
      const both = await Promise.all([confirm(keyA), confirm(keyB)])
      t.same(both.map((r) => r.statusCode).sort(), [200, 400], 'one winner')
      t.same(both.find((r) => r.statusCode === 400)!.json(), TAKEN)

      const c = await register(app)
      const taken = `${uniqueName('reg')}@example.com`
      const keyC = await request(c, taken)
      await register(app, { email: taken })
      t.same((await confirm(keyC)).json(), TAKEN, 'the registration came first')

      const d = await register(app)
      const wanted = `${uniqueName('dd')}@example.com`
      const keyD = await request(d, wanted)
      const twice = await Promise.all([confirm(keyD), confirm(keyD)])
      t.same(twice.map((r) => r.statusCode).sort(), [200, 404], 'a key works once, even twice at once')
      const registering = await post(app, '/api/auth/register/', { username: uniqueName('late'), email: wanted.toUpperCase(), password: PASSWORD })
      t.equal(registering.statusCode, 400, 'and the address is no longer free')
      t.same(registering.json(), { email: ['A user with that email already exists.'] })
    })
  })
}
