// No user enumeration by work done, no secret in logs or responses.
import { Writable } from 'node:stream'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../plugins/app/config/index.js'
import { build, get, PASSWORD, post, register, TEST_SECRET, uniqueName } from '../helper.js'

t.test('login does the same work whether the user exists, is inactive or the password is wrong', async (t) => {
  const { app } = await build(t, 'embedded')
  const user = await register(app)
  const inactive = await register(app)
  await app.users.deactivate(inactive.id)
  const calls: Array<string | null> = []
  const verify = app.passwords.verify
  app.passwords.verify = async (password, hash) => {
    calls.push(hash)
    return verify(password, hash)
  }
  t.teardown(() => {
    app.passwords.verify = verify
  })
  const cases = {
    unknown: { username: uniqueName('ghost'), password: PASSWORD },
    wrongPassword: { username: user.username, password: 'Wrong-Passphrase!' },
    inactive: { username: inactive.username, password: PASSWORD },
    tooLong: { username: user.username, password: PASSWORD + 'x'.repeat(80) }
  }
  for (const [name, body] of Object.entries(cases)) {
    calls.length = 0
    const res = await post(app, '/api/auth/login/', body)
    t.equal(res.statusCode, 401, name)
    t.same(res.json(), { detail: 'Invalid credentials' }, name)
    t.equal(calls.length, 1, `${name}: exactly one bcrypt compare`)
  }
  // The unknown user was compared against the dummy hash, at the configured cost.
  calls.length = 0
  await post(app, '/api/auth/login/', cases.unknown)
  t.equal(calls[0], null)
})

t.test('no password, token or secret reaches the log or an error body', async (t) => {
  const { env } = await build(t, 'embedded')
  let logged = ''
  const stream = new Writable({
    write (chunk, _enc, done) {
      logged += chunk.toString()
      done()
    }
  })
  const app = await buildApp(loadConfig({ ...env, LOG_LEVEL: 'trace', DATA_DIR: `${env.DATA_DIR}-log` }), {}, stream)
  t.teardown(() => app.close())
  const user = await register(app)
  await post(app, '/api/auth/login/', { username: user.username, password: 'Wrong-Passphrase!' })
  const refreshed = (await post(app, '/api/token/refresh/', { refresh: user.refresh })).json()
  await get(app, '/api/auth/me/', refreshed.access)
  await post(app, '/api/auth/logout/', { refresh: refreshed.refresh }, refreshed.access)
  // A server error is logged (with its request id) but its details stay out of the body.
  const findById = app.users.findById
  app.users.findById = async () => {
    throw new Error('boom')
  }
  const failed = await get(app, '/api/auth/me/', (await post(app, '/api/auth/login/', { username: user.username, password: PASSWORD })).json().access)
  app.users.findById = findById
  t.same(failed.json(), { detail: 'Internal server error' })
  t.match(logged, /"reqId"/)
  t.match(logged, /boom/)
  for (const secret of [PASSWORD, 'Wrong-Passphrase!', user.access, user.refresh, refreshed.access, refreshed.refresh, TEST_SECRET]) {
    t.notOk(logged.includes(secret), `not logged: ${secret.slice(0, 12)}…`)
  }
  t.notOk(logged.includes('passwordHash') || /\$2[aby]\$/.test(logged), 'no password hash logged')
})

t.test('responses never carry the password hash', async (t) => {
  const { app } = await build(t, 'embedded')
  const user = await register(app)
  for (const res of [
    await post(app, '/api/auth/login/', { username: user.username, password: PASSWORD }),
    await get(app, '/api/auth/me/', user.access)
  ]) {
    t.notMatch(res.body, /\$2[aby]\$|password/i)
  }
})
