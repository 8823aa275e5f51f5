// Headers of every answer: no-store and nosniff (tokens and user data are never cached or
// sniffed), the public keys cacheable; the access log without query strings; and the requests
// Node refuses itself (malformed, headers too large, not received within REQUEST_TIMEOUT) answered
// in the API's error shape with the headers every answer has.
import { connect } from 'node:net'
import { Writable } from 'node:stream'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../plugins/app/config/index.js'
import { createTestDataDir } from '../support/db.js'
import { build, get, post, register, TEST_SECRET } from '../helper.js'

t.test('no-store and nosniff on token, user and error answers; the JWKS cacheable', async (t) => {
  const { app } = await build(t, 'embedded')
  const user = await register(app)
  const answers = {
    register: await post(app, '/api/auth/register/', { username: `${user.username}x`, email: `x${user.email}`, password: user.password }),
    login: await post(app, '/api/auth/login/', { username: user.username, password: user.password }),
    obtain: await post(app, '/api/token/', { username: user.username, password: user.password }),
    refresh: await post(app, '/api/token/refresh/', { refresh: user.refresh }),
    me: await get(app, '/api/auth/me/', user.access),
    'bad login (401)': await post(app, '/api/auth/login/', { username: user.username, password: 'wrong-password' }),
    'field errors (400)': await post(app, '/api/auth/register/', {}),
    'no credentials (401)': await get(app, '/api/auth/me/'),
    'unknown path (404)': await get(app, '/nowhere'),
    'wrong method (405)': await get(app, '/api/auth/login/'),
    health: await get(app, '/health/live')
  }
  for (const [what, res] of Object.entries(answers)) {
    t.equal(res.headers['cache-control'], 'no-store', `${what}: Cache-Control`)
    t.equal(res.headers.pragma, 'no-cache', `${what}: Pragma`)
    t.equal(res.headers['x-content-type-options'], 'nosniff', `${what}: nosniff`)
  }
  const jwks = await get(app, '/.well-known/jwks.json')
  t.equal(jwks.headers['cache-control'], 'public, max-age=300')
  t.equal(jwks.headers.pragma, undefined)
  t.equal(jwks.headers['x-content-type-options'], 'nosniff')
})

/** An embedded app logging at info into `lines` (parsed). */
async function logged (t: Test, env: Record<string, string> = {}) {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    }
  })
  const data = await createTestDataDir()
  t.teardown(() => data.cleanup())
  const app = await buildApp(loadConfig({ DATA_DIR: data.dir, JWT_SECRET: TEST_SECRET, LOG_LEVEL: 'info', BCRYPT_COST: '4', PASSWORD_WORKERS: '1', ...env }), {}, stream)
  t.teardown(() => app.close())
  return { app, lines }
}

t.test('the access log writes the path, never the query string', async (t) => {
  const { app, lines } = await logged(t)
  await app.inject({ method: 'GET', url: '/api/protected-endpoint/?access_token=eyJ.secret.token&x=1' })
  await app.inject({ method: 'GET', url: '/health/live?probe=1' })
  const completed = lines.filter((l) => l.msg === 'request completed')
  t.same(completed.map((l) => l.url), ['/api/protected-endpoint/', '/health/live'])
  t.notMatch(JSON.stringify(lines), /secret|access_token/, 'the token reached no log line')
})

t.test("the access log samples the hot routes' successes (ACCESS_LOG_SAMPLE), never a failure or another route", async (t) => {
  for (const [sample, hotLines] of [['0', 0], ['1', 3]] as const) {
    const { app, lines } = await logged(t, { EMAIL_VERIFICATION: 'none', ACCESS_LOG_SAMPLE: sample })
    const body = { username: `sample_${sample}`, email: `sample_${sample}@example.com`, password: 'Str0ng-Passphrase!' }
    const { tokens } = (await app.inject({ method: 'POST', url: '/api/auth/register/', payload: body })).json() as { tokens: { access: string; refresh: string } }
    const bearer = { authorization: `Bearer ${tokens.access}` }
    await app.inject({ method: 'GET', url: '/api/protected-endpoint/', headers: bearer })
    await app.inject({ method: 'POST', url: '/api/token/verify/', payload: { token: tokens.access } })
    await app.inject({ method: 'POST', url: '/api/token/refresh/', payload: { refresh: tokens.refresh } })
    await app.inject({ method: 'GET', url: '/api/protected-endpoint/' })
    await app.inject({ method: 'POST', url: '/api/token/verify/', payload: { token: 'not-a-token' } })
    const completed = lines.filter((l) => l.msg === 'request completed').map((l) => `${String(l.url)} ${String(l.statusCode)}`)
    const hot = ['/api/protected-endpoint/ 200', '/api/token/verify/ 200', '/api/token/refresh/ 200']
    t.equal(completed.filter((l) => hot.includes(l)).length, hotLines, `ACCESS_LOG_SAMPLE=${sample}: ${hotLines} of the 3 hot successes logged`)
    t.ok(completed.includes('/api/auth/register/ 201'), 'another route: logged')
    t.ok(completed.includes('/api/protected-endpoint/ 401') && completed.includes('/api/token/verify/ 401'), 'failures: logged')
  }
})

t.test("a request's logger is made only when the request logs; its lines carry the request id", async (t) => {
  const { app, lines } = await logged(t, { EMAIL_VERIFICATION: 'none', ACCESS_LOG_SAMPLE: '0' })
  const body = { username: 'lazy_logger', email: 'lazy_logger@example.com', password: 'Str0ng-Passphrase!' }
  const { tokens } = (await app.inject({ method: 'POST', url: '/api/auth/register/', payload: body })).json() as { tokens: { access: string } }
  const child = app.log.child.bind(app.log)
  let children = 0
  app.log.child = (...args: Parameters<typeof child>) => {
    children++
    return child(...args)
  }
  for (let i = 0; i < 3; i++) {
    t.equal((await app.inject({ method: 'GET', url: '/api/protected-endpoint/', headers: { authorization: `Bearer ${tokens.access}` } })).statusCode, 200)
    t.equal((await app.inject({ method: 'POST', url: '/api/token/verify/', payload: { token: tokens.access } })).statusCode, 200)
  }
  t.equal(children, 0, 'hot successes that write nothing make no logger')
  const refused = await app.inject({ method: 'POST', url: '/api/token/verify/', payload: { token: 'not-a-token' } })
  t.equal(refused.statusCode, 401)
  t.equal(children, 1, 'a request that logs makes its logger once')
  const line = lines.find((l) => l.msg === 'request completed' && l.statusCode === 401)
  t.match(line, { reqId: String, url: '/api/token/verify/' }, 'its line names the request')
  t.equal(lines.filter((l) => l.reqId === line?.reqId).length, 1)
})

/** What the server answers to raw bytes on a fresh connection (until it closes it). */
async function raw (port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes))
    let got = ''
    socket.on('data', (d) => (got += d))
    socket.on('close', () => resolve(got))
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve(got) : reject(err)))
    setTimeout(() => socket.destroy(), 5_000).unref()
  })
}

/** Status, headers (lower-cased names) and body of a raw answer. */
function parse (answer: string) {
  const [head = '', body = ''] = answer.split('\r\n\r\n')
  const [status = '', ...fields] = head.split('\r\n')
  const headers = Object.fromEntries(fields.map((f) => [f.slice(0, f.indexOf(':')).toLowerCase(), f.slice(f.indexOf(':') + 1).trim()]))
  return { status, headers, body }
}

t.test("requests Node refuses itself get the API's error shape and every answer's headers", async (t) => {
  // REQUEST_TIMEOUT short, for the requests that never finish.
  const { app } = await build(t, 'embedded', { REQUEST_TIMEOUT: '0.5' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const cases = [
    ['malformed request line', 'GARBAGE / NOPE\r\n\r\n', 400, /^Bad request/],
    ['an invalid header', 'GET /health/live HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n', 400, /^Bad request/],
    ['headers too large', `GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, /too large/],
    ['a header block that never ends', 'GET /health/live HTTP/1.1\r\nHost: x\r\n', 408, /^Request timeout/],
    ['a body that never ends', 'POST /api/auth/login/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"use', 408, /^Request timeout/]
  ] as const
  const answers = await Promise.all(cases.map(([, bytes]) => raw(port, bytes)))
  for (const [i, [what, , status, detail]] of cases.entries()) {
    const { status: line, headers, body } = parse(answers[i]!)
    t.match(line, new RegExp(`^HTTP/1\\.1 ${status} `), what)
    t.match(headers, { 'content-type': /^application\/json/, 'cache-control': 'no-store', pragma: 'no-cache', 'x-content-type-options': 'nosniff' }, `${what}: the headers of every answer`)
    t.match(JSON.parse(body || '{}'), { detail }, `${what}: {"detail": ...}`)
  }
})
