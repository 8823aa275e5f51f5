// PostgreSQL failing under the service, on a cluster of this test's own (never the shared one):
// stopped, then started again, and frozen (SIGSTOP). Refresh and the protected routes need only
// the token store (Redis) and keep working; what needs the database answers 503 within
// DEPENDENCY_TIMEOUT; everything works again once PostgreSQL is back.
import t, { type Test } from 'tap'
import { dataMigrations } from '../../plugins/app/data-migrations.js'
import { postgresAdapterFactory, applyMigrations } from '../../plugins/external/prisma/migrations.js'
import { build, get, login, post, register } from '../helper.js'
import { onceBack, startPostgres } from '../support/servers.js'

const TIMEOUT_MS = 500
const SLACK_MS = 400

async function ownDatabase (t: Test) {
  const pg = await startPostgres()
  t.teardown(() => pg.destroy())
  await applyMigrations(postgresAdapterFactory({ connectionString: pg.url, max: 1 }), dataMigrations)
  return pg
}

/** The answer of `call`, and how long it took. */
async function timed<T> (call: () => Promise<T>): Promise<[T, number]> {
  const started = Date.now()
  const res = await call()
  return [res, Date.now() - started]
}

t.test('PostgreSQL stopped: refresh, protected, verify and /me unaffected; login and register 503; back by itself', async (t) => {
  const pg = await ownDatabase(t)
  const { app } = await build(t, 'postgres', { DATABASE_URL: pg.url, DEPENDENCY_TIMEOUT: String(TIMEOUT_MS / 1000) })
  const user = await register(app)
  const session = await login(app, user.username)
  t.equal((await get(app, '/api/auth/me/', session.access)).statusCode, 200)

  await pg.stop()
  let refresh = session.refresh
  for (let i = 0; i < 3; i++) {
    const res = await post(app, '/api/token/refresh/', { refresh })
    t.equal(res.statusCode, 200, `refresh ${i + 1}`)
    refresh = res.json().refresh
  }
  t.equal((await get(app, '/api/protected-endpoint/', session.access)).statusCode, 200, 'protected')
  t.equal((await post(app, '/api/token/verify/', { token: refresh })).statusCode, 200, 'verify')
  const me = await get(app, '/api/auth/me/', session.access)
  t.equal(me.statusCode, 200, '/me, from the copy this instance saw last')
  t.equal(me.json().username, user.username)

  for (const [what, call] of [
    ['login', () => post(app, '/api/auth/login/', { username: user.username, password: user.password })],
    ['register', () => post(app, '/api/auth/register/', { username: 'while_down', email: 'while_down@example.com', password: user.password })]
  ] as const) {
    const [res, took] = await timed(call)
    t.equal(res.statusCode, 503, what)
    t.same(res.json(), { detail: 'Service temporarily unavailable.' })
    t.equal(res.headers['retry-after'], '5')
    t.ok(took < TIMEOUT_MS + SLACK_MS, `${what} answered in ${took} ms`)
  }
  t.match((await get(app, '/health/ready')).json(), { status: 'unavailable', database: 'unavailable', token_store: 'ok' })

  await pg.start()
  const res = await onceBack(() => post(app, '/api/auth/login/', { username: user.username, password: user.password }))
  t.equal(res.statusCode, 200, 'login works again once PostgreSQL is back')
  t.equal((await get(app, '/health/ready')).statusCode, 200)
  t.equal(await app.users.findByLogin('while_down'), null, 'the refused registration left nothing')
})

t.test('a frozen PostgreSQL (SIGSTOP): 503 within the timeout, not a hang', async (t) => {
  const pg = await ownDatabase(t)
  t.teardown(() => pg.thaw())
  const { app } = await build(t, 'postgres', { DATABASE_URL: pg.url, DEPENDENCY_TIMEOUT: String(TIMEOUT_MS / 1000) })
  const user = await register(app)
  pg.freeze()
  const [res, took] = await timed(() => post(app, '/api/auth/login/', { username: user.username, password: user.password }))
  t.equal(res.statusCode, 503)
  t.ok(took < TIMEOUT_MS + SLACK_MS, `login answered in ${took} ms`)
  const [again, took2] = await timed(() => post(app, '/api/auth/login/', { username: user.username, password: user.password }))
  t.equal(again.statusCode, 503, 'and again (a fresh connection hangs too)')
  t.ok(took2 < TIMEOUT_MS + SLACK_MS, `in ${took2} ms`)
  t.equal((await post(app, '/api/token/refresh/', { refresh: user.refresh })).statusCode, 200, 'refresh does not notice')
  pg.thaw()
  const ok = await onceBack(() => post(app, '/api/auth/login/', { username: user.username, password: user.password }))
  t.equal(ok.statusCode, 200, 'fine once thawed')
})

t.test('PostgreSQL down at boot: the service starts, not ready, and recovers by itself', async (t) => {
  const pg = await ownDatabase(t)
  await pg.stop()
  const { app } = await build(t, 'postgres', { DATABASE_URL: pg.url, DEPENDENCY_TIMEOUT: String(TIMEOUT_MS / 1000) })
  t.equal((await get(app, '/health/live')).statusCode, 200)
  t.match((await get(app, '/health/ready')).json(), { status: 'unavailable', database: 'unavailable', token_store: 'ok' })
  const [res, took] = await timed(() => post(app, '/api/auth/login/', { username: 'nobody', password: 'Str0ng-Passphrase!' }))
  t.equal(res.statusCode, 503)
  t.ok(took < TIMEOUT_MS + SLACK_MS, `login answered in ${took} ms`)
  await pg.start()
  const ready = await onceBack(() => get(app, '/health/ready'))
  t.equal(ready.statusCode, 200, 'ready once PostgreSQL is up')
  const user = await register(app)
  t.equal((await post(app, '/api/auth/login/', { username: user.username, password: user.password })).statusCode, 200)
})
