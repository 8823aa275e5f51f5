// The breached-password check (PASSWORD_BREACH_CHECK=hibp) against a range server of the test's
// own: a listed password is refused with the message, beside Django's validators' in one 400, at
// register, password change and reset; padding entries (count 0) are ignored; a slow (3 s) or
// failing server skips the check (counted and logged); and nothing of the password but the first 5
// characters of its SHA-1 ever leaves the process (the requests the server saw).
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { build, PASSWORD, post, register, uniqueName } from '../../../helper.js'
import { createLinks } from '../../../../plugins/app/accounts/links.js'

const BREACHED = 'This password has appeared in a data breach and cannot be used.'
const TOO_COMMON = 'This password is too common.'
const LISTED = 'Listed-Passphrase-7!'
const PADDED = 'Padded-Passphrase-7!'
const sha1 = (p: string) => createHash('sha1').update(p).digest('hex').toUpperCase()

interface Seen {
  url: string
  headers: IncomingMessage['headers']
  body: string
}

/** A range API: LISTED and 'password' with counts, PADDED only as a padding entry (count 0), and random padding. */
async function rangeServer (t: Test) {
  const seen: Seen[] = []
  let mode: 'ok' | 'slow' | 'error' = 'ok'
  let answeredSlow = false
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d: Buffer) => { body += d.toString() })
    req.on('end', () => {
      seen.push({ url: req.url ?? '', headers: req.headers, body })
      if (mode === 'error') return res.writeHead(500).end('no')
      const prefix = (req.url ?? '').split('/').pop()!
      const lines: string[] = []
      for (const [password, count] of [[LISTED, 12], ['password', 9_545_824], [PADDED, 0]] as const) {
        if (sha1(password).startsWith(prefix)) lines.push(`${sha1(password).slice(5)}:${count}`)
      }
      for (let i = 0; i < 20; i++) lines.push(`${createHash('sha1').update(`pad${i}`).digest('hex').toUpperCase().slice(5)}:0`)
      const answer = () => res.writeHead(200, { 'content-type': 'text/plain' }).end(lines.join('\r\n'))
      if (mode === 'slow') {
        setTimeout(() => {
          answeredSlow = true
          if (!res.destroyed) answer()
        }, 3_000).unref()
      } else answer()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/range/`,
    seen,
    set: (m: typeof mode) => { mode = m },
    get answeredSlow () { return answeredSlow }
  }
}

const checks = async (app: Awaited<ReturnType<typeof build>>['app'], result: string) => {
  const metric = await app.metrics.registry.getSingleMetric('auth_password_breach_checks_total')!.get()
  return metric.values.find((v) => v.labels.result === result)?.value ?? 0
}

t.test('PASSWORD_BREACH_CHECK=hibp', async (t) => {
  const range = await rangeServer(t)
  const built = await build(t, 'embedded', { PASSWORD_BREACH_CHECK: 'hibp', HIBP_URL: range.url, LOG_LEVEL: 'warn' })
  const { app } = built
  const registerWith = (password: string) => {
    const username = uniqueName('breach')
    return post(app, '/api/auth/register/', { username, email: `${username}@example.com`, password })
  }

  t.test('a listed password is refused at register, with the other validators in one 400', async (t) => {
    const listed = await registerWith(LISTED)
    t.equal(listed.statusCode, 400)
    t.same(listed.json(), { password: [BREACHED] })
    const common = await registerWith('password')
    t.same(common.json(), { password: [TOO_COMMON, BREACHED] })
    t.equal((await registerWith(PADDED)).statusCode, 201, 'a padding entry (count 0) is no breach')
    t.equal((await registerWith(PASSWORD)).statusCode, 201)
    t.equal(await checks(app, 'breached'), 2)
    t.equal(await checks(app, 'clean'), 2)
  })

  t.test('and at password change and reset', async (t) => {
    const user = await register(app)
    const change = await post(app, '/api/auth/password/change/', { old_password: PASSWORD, new_password1: LISTED, new_password2: LISTED }, user.access)
    t.equal(change.statusCode, 400)
    t.same(change.json(), { new_password2: [BREACHED] })
    const ok = await post(app, '/api/auth/password/change/', { old_password: PASSWORD, new_password1: PADDED, new_password2: PADDED }, user.access)
    t.equal(ok.statusCode, 200)
    const uid = Buffer.from(user.id).toString('base64url')
    const fresh = (await app.users.findById(user.id))!
    const { signingKey: secret } = app.config.jwt
    const token = createLinks({ secret, resetTimeout: app.config.email.resetTimeout, verifyTimeout: app.config.email.verifyTimeout }).resetToken(fresh)
    const reset = await post(app, '/api/auth/password/reset/confirm/', { uid, token, new_password1: LISTED, new_password2: LISTED })
    t.equal(reset.statusCode, 400)
    t.same(reset.json(), { new_password2: [BREACHED] })
  })

  t.test('only the 5-character prefix of the SHA-1 leaves the process, with Add-Padding', async (t) => {
    t.ok(range.seen.length >= 6)
    const passwords = [LISTED, PADDED, PASSWORD, 'password']
    for (const request of range.seen) {
      t.match(request.url, /^\/range\/[0-9A-F]{5}$/)
      t.ok(passwords.some((p) => request.url === `/range/${sha1(p).slice(0, 5)}`), 'the prefix of a password sent')
      t.equal(request.headers['add-padding'], 'true')
      t.equal(request.body, '')
      const text = JSON.stringify(request)
      for (const p of passwords) {
        t.notOk(text.includes(sha1(p).slice(5)), 'no other part of the hash')
        t.notOk(text.toLowerCase().includes(p.toLowerCase()), 'not the password')
      }
    }
  })

  t.test('a slow server (3 s): the check is skipped within its 2 s budget, counted and logged; sign-up goes on', async (t) => {
    range.set('slow')
    const before = await checks(app, 'skipped')
    const res = await registerWith(LISTED)
    t.equal(res.statusCode, 201, 'a listed password gets through while the API is down: fail-open')
    t.notOk(range.answeredSlow, 'answered before the server would have')
    t.equal(await checks(app, 'skipped'), before + 1)
    t.ok(built.logs.some((l) => l.msg === 'breached-password check skipped' && l.reason === 'timeout'))
    range.set('error')
    t.equal((await registerWith(LISTED)).statusCode, 201)
    t.equal(await checks(app, 'skipped'), before + 2)
    range.set('ok')
  })
})

t.test('off by default: no request at all', async (t) => {
  const range = await rangeServer(t)
  const { app } = await build(t, 'embedded', { HIBP_URL: range.url })
  const username = uniqueName('nocheck')
  t.equal((await post(app, '/api/auth/register/', { username, email: `${username}@example.com`, password: LISTED })).statusCode, 201)
  t.equal(range.seen.length, 0)
})
