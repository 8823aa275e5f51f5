// The mail plugin: delivery over real SMTP (smtp-server, parsed with mailparser), the templates
// (defaults, overrides file by file, HTML escaping, refusals at start), the .eml file transport
// without SMTP_URL (the log names the file, never the link), failures logged and counted without the link, and a shutdown that waits for
// the mail on its way (bounded by SMTP_TIMEOUT).
import { execFile } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import Mustache from 'mustache'
import { simpleParser } from 'mailparser'
import configPlugin, { loadConfig } from '../../../../plugins/app/config/index.js'
import mailPlugin, { expiryVars, fillLink, humanDuration, type MailKind, type MailVars } from '../../../../plugins/app/mail/index.js'
import { TEMPLATE_FILES } from '../../../../plugins/app/mail/templates.js'
import metricsPlugin from '../../../../plugins/external/metrics.js'
import { build as buildWholeApp, post, register } from '../../../helper.js'
import { startSmtp } from '../../../support/smtp.js'
import { compileLikeTsc, projectRoot as root } from '../../../support/dist.js'
import { withPlugins, type LogLine } from '../../../support/plugins.js'

const SECRET = 'test-secret-that-is-at-least-32-bytes-long!!'

/** The parts of a tap Test that build() uses. */
interface TestLike {
  teardown(fn: () => unknown): void
}

interface MailApp {
  app: FastifyInstance
  logs: LogLine[]
  dataDir: string
}

/** Config + mail only, logging (info and up) into an array. Closed at teardown unless the test closed it. */
async function build (t: TestLike, env: Record<string, string> = {}): Promise<MailApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'auth-mail-'))
  // Registered first, run last: the app closes before its data folder goes.
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: SECRET, DATA_DIR: dataDir, ...env })
  const { app, logs } = await withPlugins(t, [[configPlugin, { config }], metricsPlugin, mailPlugin], { logLevel: 'info' })
  return { app, logs, dataDir }
}

/** Counts per kind: the ones given, 0 for the other kinds. */
const counts = (given: Record<string, number>) => ({ 'password-reset': 0, 'verify-email': 0, 'email-change': 0, 'security-notice': 0, ...given })

let n = 0
/** Variables as a flow would make them: a link with a fresh token, its expiry. */
function resetVars (username = 'alice'): MailVars & { link: string; expires: string; expiresAt: string } {
  const token = `tok-${++n}-${Math.random().toString(36).slice(2)}`
  const link = fillLink('http://localhost:3000/reset?uid={uid}&token={token}', { uid: `uid${n}`, token })
  return { link, ...expiryVars(3600, new Date('2030-01-02T03:04:05Z')), username, email: `${username}@example.com` }
}

const errorLines = (logs: LogLine[]) => logs.filter((l) => l.level >= 50)

/** A port nothing listens on. */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

t.test('link and expiry helpers', async (t) => {
  t.equal(fillLink('https://a.example/r?uid={uid}&token={token}', { uid: 'MQ', token: 'a b&c/d' }), 'https://a.example/r?uid=MQ&token=a%20b%26c%2Fd')
  t.equal(fillLink('https://a.example/v/{key}/{other}', { key: 'k' }), 'https://a.example/v/k/{other}', 'an unknown placeholder stays')
  t.equal(humanDuration(3600), '1 hour')
  t.equal(humanDuration(259200), '3 days')
  t.equal(humanDuration(5400), '90 minutes')
  t.equal(humanDuration(61), '61 seconds')
  t.equal(humanDuration(1), '1 second')
  t.same(expiryVars(3600, new Date('2030-01-02T03:04:05Z')), { expires: '1 hour', expiresAt: '2030-01-02T04:04:05.000Z' })
})

t.test('delivered over SMTP: text and HTML carry the link and the expiry', async (t) => {
  const smtp = await startSmtp(t)
  const { app, logs } = await build(t, { SMTP_URL: smtp.url, EMAIL_FROM: 'Auth <auth@example.com>' })
  const vars = resetVars()
  t.equal(await app.mail.send('password-reset', 'alice@example.com', vars), true)
  const mail = await smtp.next()
  t.equal(mail.subject, 'Reset your password')
  t.same(mail.from?.value, [{ address: 'auth@example.com', name: 'Auth' }])
  t.same([mail.to].flat().flatMap((a) => a!.value.map((v) => v.address)), ['alice@example.com'])
  t.match(mail.text, vars.link)
  t.match(mail.text, 'Hello alice')
  t.match(mail.text, 'for 1 hour (until 2030-01-02T04:04:05.000Z)')
  t.type(mail.html, 'string')
  const html = mail.html as string
  // The link is HTML-escaped in the HTML body (& -> &amp;), inside the href and as text.
  t.match(html, `<a href="${Mustache.escape(vars.link)}">`)
  t.notMatch(html, vars.link, 'never raw in HTML')
  t.match(html, 'for 1 hour (until 2030-01-02T04:04:05.000Z)')

  const verify = { ...resetVars('bob'), link: fillLink('http://localhost:3000/verify?key={key}', { key: 'the-key' }) }
  t.equal(await app.mail.send('verify-email', 'bob@example.com', verify), true)
  const second = await smtp.next()
  t.equal(second.subject, 'Confirm your e-mail address')
  t.match(second.text, 'http://localhost:3000/verify?key=the-key')
  t.match(second.text, 'bob@example.com is your e-mail address')
  t.match(second.html as string, Mustache.escape('http://localhost:3000/verify?key=the-key'))

  t.same(app.mail.stats, { sent: counts({ 'password-reset': 1, 'verify-email': 1 }), failed: counts({ 'password-reset': 0, 'verify-email': 0 }) })
  t.same(errorLines(logs), [])
  t.notOk(JSON.stringify(logs).includes(vars.link), 'with SMTP, the link is never logged')
})

t.test('values are HTML-escaped in the HTML body only', async (t) => {
  const smtp = await startSmtp(t)
  const { app } = await build(t, { SMTP_URL: smtp.url })
  const nasty = '<b>&"\'x'
  t.equal(await app.mail.send('password-reset', 'eve@example.com', resetVars(nasty)), true)
  const mail = await smtp.next()
  const html = mail.html as string
  t.match(html, 'Hello &lt;b&gt;&amp;&quot;&#39;x,')
  t.notMatch(html, '<b>', 'no markup injected')
  t.match(mail.text, `Hello ${nasty},`, 'the plain text is not escaped')
})

t.test('a template of EMAIL_TEMPLATES_DIR replaces the default of the same name, and only that one', async (t) => {
  const dir = t.testdir({
    'password-reset.subject.txt': 'Custom reset for {{username}}\n',
    'password-reset.txt': 'Custom body. Go to {{link}} within {{expires}}.\n'
  })
  const smtp = await startSmtp(t)
  const { app } = await build(t, { SMTP_URL: smtp.url, EMAIL_TEMPLATES_DIR: dir })
  const vars = resetVars('carol')
  t.equal(await app.mail.send('password-reset', 'carol@example.com', vars), true)
  const mail = await smtp.next()
  t.equal(mail.subject, 'Custom reset for carol', 'one line, the final newline dropped')
  t.equal(mail.text?.trim(), `Custom body. Go to ${vars.link} within 1 hour.`)
  t.match(mail.html as string, 'Choose a new password', 'the HTML body is still the default')
  t.equal(await app.mail.send('verify-email', 'carol@example.com', vars), true)
  t.equal((await smtp.next()).subject, 'Confirm your e-mail address', 'other kinds keep theirs')
})

t.test('a broken or unreadable override stops the start, naming the file', async (t) => {
  const cases: Array<[Record<string, string | Record<string, string>>, string, RegExp]> = [
    [{ 'password-reset.html': '<p>{{#link}}unclosed</p>' }, 'password-reset.html', /does not parse.*Unclosed section/],
    [{ 'verify-email.txt': 'Open {{link}} now, {{usrname}}' }, 'verify-email.txt', /unknown variable \{\{usrname\}\}/],
    [{ 'password-reset.txt': 'No link here, {{username}}' }, 'password-reset.txt', /must contain \{\{link\}\}/],
    [{ 'verify-email.subject.txt': 'Hi {{> header}}' }, 'verify-email.subject.txt', /partials/],
    // A folder where a file should be: reading it fails.
    [{ 'password-reset.subject.txt': {} }, 'password-reset.subject.txt', /cannot be read/]
  ]
  for (const [files, name, expected] of cases) {
    const dir = t.testdir(files)
    const err = await build(t, { EMAIL_TEMPLATES_DIR: dir }).then(
      () => null,
      (e: Error) => e
    )
    t.ok(err, name)
    t.match(err?.message, join(dir, name), 'names the file')
    t.match(err?.message, expected)
  }
})

t.test('a file of EMAIL_TEMPLATES_DIR that replaces nothing is reported', async (t) => {
  const dir = t.testdir({ 'password_reset.txt': 'typo {{link}}' })
  const { logs } = await build(t, { EMAIL_TEMPLATES_DIR: dir })
  const warn = logs.find((l) => l.level === 40 && /replace no template/.test(l.msg))
  t.ok(warn)
  t.same(warn?.files, ['password_reset.txt'])
  t.same(warn?.names, TEMPLATE_FILES)
})

t.test('without SMTP_URL: an .eml file under DATA_DIR/mail and a log line with its path, never the link', async (t) => {
  const { app, logs, dataDir } = await build(t)
  const vars = resetVars('dave')
  t.equal(await app.mail.send('password-reset', 'dave@example.com', vars), true)
  const files = readdirSync(join(dataDir, 'mail'))
  t.equal(files.length, 1)
  t.match(files[0], /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z-password-reset-[0-9a-f]{8}\.eml$/)
  const raw = readFileSync(join(dataDir, 'mail', files[0]!))
  t.match(raw.toString('latin1'), /\r\n\r\n/, 'CRLF line ends, as on the wire')
  const mail = await simpleParser(raw)
  t.equal(mail.subject, 'Reset your password')
  t.same(mail.from?.value.map((v) => v.address), ['no-reply@localhost'])
  t.match(mail.text, vars.link)
  t.match(mail.html as string, Mustache.escape(vars.link))
  const line = logs.find((l) => l.msg === 'mail written (no SMTP_URL)')
  t.ok(line)
  t.match(line, { kind: 'password-reset', file: join(dataDir, 'mail', files[0]!) })
  const all = JSON.stringify(logs)
  t.notOk(all.includes(vars.link), 'the link is not logged')
  t.notOk(all.includes(new URL(vars.link).searchParams.get('token')!), 'nor the token')
  t.notOk(all.includes('Choose a new password'), 'nor the message')
  t.equal(app.mail.stats.sent['password-reset'], 1)
  t.equal(await app.mail.send('no-such-kind' as MailKind, 'dave@example.com', vars), false, 'an unknown kind is refused')
  t.match(errorLines(logs), [{ msg: 'mail delivery failed: unknown kind', kind: 'no-such-kind' }])
  t.equal(readdirSync(join(dataDir, 'mail')).length, 1)
})

t.test('a server that refuses the message: false, counted, logged without the link', async (t) => {
  const smtp = await startSmtp(t, { reject: 1 })
  const { app, logs } = await build(t, { SMTP_URL: smtp.url })
  const vars = resetVars()
  t.equal(await app.mail.send('password-reset', 'frank@example.com', vars), false)
  t.equal(smtp.rejected, 1)
  t.same(app.mail.stats.failed, counts({ 'password-reset': 1, 'verify-email': 0 }))
  t.equal(app.mail.stats.sent['password-reset'], 0)
  const errors = errorLines(logs)
  t.equal(errors.length, 1, 'one line')
  t.match(errors[0], { msg: 'mail delivery failed', kind: 'password-reset', err: { code: 'EENVELOPE', responseCode: 550, message: /550/ } })
  t.notOk(JSON.stringify(logs).includes(vars.link), 'the link is not logged')
  t.notOk(JSON.stringify(logs).includes(vars.link.split('token=')[1]!), 'nor the token')
  t.notOk(JSON.stringify(logs).includes('Reset your password'), 'nor the message')
  t.equal(smtp.messages.length, 0)

  // The same plugin delivers once the server accepts again.
  t.equal(await app.mail.send('password-reset', 'frank@example.com', resetVars()), true)
  t.equal(smtp.messages.length, 1)
  t.same(app.mail.stats, { sent: counts({ 'password-reset': 1, 'verify-email': 0 }), failed: counts({ 'password-reset': 1, 'verify-email': 0 }) })
})

t.test('an unreachable SMTP server: false, counted, logged without the link', async (t) => {
  const port = await closedPort()
  const { app, logs } = await build(t, { SMTP_URL: `smtp://user:smtp-pass-xyz@127.0.0.1:${port}`, SMTP_TIMEOUT: '1' })
  const vars = resetVars()
  const started = Date.now()
  t.equal(await app.mail.send('verify-email', 'gina@example.com', vars), false)
  t.ok(Date.now() - started < 3_000, 'within the SMTP timeout')
  t.same(app.mail.stats, { sent: counts({ 'password-reset': 0, 'verify-email': 0 }), failed: counts({ 'password-reset': 0, 'verify-email': 1 }) })
  const errors = errorLines(logs)
  t.equal(errors.length, 1)
  t.match(errors[0], { msg: 'mail delivery failed', kind: 'verify-email', err: { code: /^E[A-Z]+$/, message: /ECONNREFUSED/ } })
  const all = JSON.stringify(logs)
  t.notOk(all.includes(vars.link), 'the link is not logged')
  t.notOk(all.includes('smtp-pass-xyz'), 'nor the SMTP password')
})

t.test('close waits for the mail on its way', async (t) => {
  const smtp = await startSmtp(t)
  const { app } = await build(t, { SMTP_URL: smtp.url })
  const release = smtp.holdNext()
  setTimeout(release, 400)
  let settled = false
  // Not awaited, as the flows do.
  const delivery = app.mail.send('password-reset', 'hank@example.com', resetVars()).finally(() => (settled = true))
  await app.close()
  t.equal(settled, true, 'the send had finished when close() returned')
  t.equal(await delivery, true)
  t.equal(smtp.messages.length, 1)
  t.equal(app.mail.stats.sent['password-reset'], 1)
  t.equal(await app.mail.send('password-reset', 'hank@example.com', resetVars()), false, 'after close, a send fails (and is counted)')
  t.equal(app.mail.stats.failed['password-reset'], 1)
})

t.test('close gives up after SMTP_TIMEOUT: the message is failed and logged, not dropped silently', async (t) => {
  const smtp = await startSmtp(t)
  const { app, logs } = await build(t, { SMTP_URL: smtp.url, SMTP_TIMEOUT: '0.5' })
  const release = smtp.holdNext()
  t.teardown(release)
  let settled = false
  const delivery = app.mail.send('verify-email', 'ivy@example.com', resetVars()).finally(() => (settled = true))
  const started = Date.now()
  await app.close()
  const took = Date.now() - started
  t.equal(settled, true, 'settled when close() returned')
  t.ok(took < 3_000, `close returned after ${took} ms`)
  t.equal(await delivery, false)
  t.equal(app.mail.stats.failed['verify-email'], 1)
  // The shutdown's wait (started at close()) ends before the socket's idle timeout (started
  // once the message was sent): the delivery is aborted, and says so.
  t.ok(logs.some((l) => l.level === 40 && /giving up/.test(l.msg) && l.pending === 1), 'the shutdown says it gave up')
  t.match(errorLines(logs), [{ msg: 'mail delivery failed', kind: 'verify-email', err: { code: 'EABORT' } }])
})

t.test('the whole app has the mail door', async (t) => {
  const { app } = await buildWholeApp(t, 'embedded')
  t.ok(app.hasDecorator('mail'))
  t.same(app.mail.stats.sent, counts({ 'password-reset': 0, 'verify-email': 0 }))
})

t.test('without SMTP_URL, a register and a reset request: the links are in the .eml files, nowhere in the log', async (t) => {
  const { app, env, logs } = await buildWholeApp(t, 'embedded', { LOG_LEVEL: 'info', EMAIL_VERIFICATION: 'optional' })
  const user = await register(app)
  t.equal((await post(app, '/api/auth/password/reset/', { email: user.email })).statusCode, 200)
  // Mail goes out after the answer.
  const dir = join(env.DATA_DIR!, 'mail')
  for (let i = 0; i < 100 && app.mail.stats.sent['password-reset'] + app.mail.stats.sent['verify-email'] < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  const files = readdirSync(dir).sort()
  t.equal(files.length, 2, 'two messages written')
  const text = logs.map((l) => JSON.stringify(l)).join('\n')
  for (const file of files) {
    const mail = await simpleParser(readFileSync(join(dir, file)))
    const link = /https?:\/\/\S+/.exec(mail.text ?? '')?.[0] ?? ''
    const url = new URL(link)
    const secrets = [link, url.searchParams.get('token'), url.searchParams.get('key')].filter((v): v is string => !!v)
    t.ok(secrets.length >= 2, `${file}: the .eml holds the link and its token or key`)
    for (const secret of secrets) t.notOk(text.includes(secret), `${file}: not in the log: ${secret.slice(0, 40)}`)
    for (const line of (mail.text ?? '').split('\n').filter((l) => l.trim().length >= 20)) t.notOk(text.includes(line.trim()), `${file}: the body is not in the log`)
    t.ok(logs.some((l) => l.msg === 'mail written (no SMTP_URL)' && l.file === join(dir, file)), `${file}: its path is logged`)
  }
})

t.test('the templates load from compiled JavaScript in dist/ without tsx', async (t) => {
  // Lay the modules out as `tsc` does (dist/plugins/app/mail, no templates there: tsc copies
  // no data files) beside plugins/app/mail/templates, and run them with plain node.
  const dir = t.testdir({})
  const folder = 'plugins/app/mail'
  compileLikeTsc(dir, [...['index.ts', 'templates.ts'].map((f) => `${folder}/${f}`), 'plugins/app/config/notify.ts', 'plugins/app/config/config-error.ts'])
  mkdirSync(join(dir, folder, 'templates'), { recursive: true })
  for (const f of TEMPLATE_FILES) copyFileSync(join(root, folder, 'templates', f), join(dir, folder, 'templates', f))
  writeFileSync(
    join(dir, 'dist', 'run.js'),
    `import Fastify from 'fastify'
import fp from 'fastify-plugin'
import mail from './plugins/app/mail/index.js'
import { Registry } from 'prom-client'
import { defaultTemplatesDir } from './plugins/app/mail/templates.js'
const config = { production: false, dataDir: ${JSON.stringify(join(dir, 'data'))}, timeouts: { smtp: 1000 },
  email: { smtpUrl: null, from: 'no-reply@localhost', templatesDir: null } }
const app = Fastify()
await app.register(fp(async (f) => f.decorate('config', config), { name: 'config' }))
await app.register(fp(async (f) => f.decorate('metrics', { registry: new Registry() }), { name: 'metrics' }))
await app.register(mail)
await app.ready()
const ok = await app.mail.send('password-reset', 'x@example.com', { link: 'http://l/?t=1', expires: '1 hour', expiresAt: 'soon', username: 'x', email: 'x@example.com' })
await app.close()
console.log(JSON.stringify({ ok, dir: defaultTemplatesDir() }))
`
  )
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  const { stdout } = await promisify(execFile)(process.execPath, [join(dir, 'dist', 'run.js')], { env, cwd: dir })
  const out = JSON.parse(stdout.trim().split('\n').pop()!)
  t.equal(out.ok, true)
  t.equal(out.dir, join(dir, folder, 'templates') + '/')
  t.equal(readdirSync(join(dir, 'data', 'mail')).length, 1)
})
