// Security notices when a dependency fails after the answer, on a redis-server and a PostgreSQL
// cluster of this test's own (never the shared ones): the answer was already given and stays
// given; the step that fails (the device check in Redis, the user's lookup in PostgreSQL) is
// logged and counted as a failed notice, within the dependency timeout, never a hang or an
// unhandled rejection; once the dependency is back, the notice that was due goes out.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { dataMigrations } from '../../plugins/app/data-migrations.js'
import { applyMigrations, postgresAdapterFactory } from '../../plugins/external/prisma/migrations.js'
import { build, post, register } from '../helper.js'
import { hold } from '../support/hold.js'
import { onceBack, startPostgres, startRedis } from '../support/servers.js'

const TIMEOUT_MS = 500
/** What "within the timeout" allows for scheduling on a busy 2-core machine. */
const SLACK_MS = 1_500
const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0'

/** auth_security_notices_total{event, outcome}. */
async function counted (app: FastifyInstance, event: string, outcome: 'sent' | 'failed'): Promise<number> {
  const { values } = await app.metrics.registry.getSingleMetric('auth_security_notices_total')!.get()
  return values.find((v) => v.labels.event === event && v.labels.outcome === outcome)?.value ?? 0
}

/** How long `app.notify.settled()` takes. */
async function settleTime (app: FastifyInstance): Promise<number> {
  const started = Date.now()
  await app.notify.settled()
  return Date.now() - started
}

const failures = (logs: Array<Record<string, unknown>>, event: string) =>
  logs.filter((l) => l.msg === 'security notice: a step failed' && l.event === event)

t.test('Redis killed between a sign-in\'s answer and its device check: logged, counted, no hang; the notice goes out once Redis is back', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.destroy())
  const { app, logs } = await build(t, 'postgres', { REDIS_URL: redis.url, DEPENDENCY_TIMEOUT: String(TIMEOUT_MS / 1000), LOG_LEVEL: 'warn' })
  const user = await register(app)
  // The registration's own device check (after its answer) is done before the one held below.
  await app.notify.settled()
  const signIn = () => app.inject({ method: 'POST', url: '/api/auth/login/', headers: { 'user-agent': FIREFOX }, payload: { username: user.username, password: user.password } })

  // The sign-in is answered; its device check is held until Redis is gone.
  const held = hold(app.tokenStore, 'rememberDevice')
  const res = await signIn()
  t.equal(res.statusCode, 200, 'the sign-in was answered before the device check')
  await held.reached
  await redis.kill()
  held.release()
  const took = await settleTime(app)
  t.ok(took < TIMEOUT_MS + SLACK_MS, `the failed check ended in ${took} ms`)
  t.equal(await counted(app, 'new_device', 'failed'), 1, 'counted as a failed new_device notice')
  t.equal(await counted(app, 'new_device', 'sent'), 0)
  t.equal(app.mail.stats.sent['security-notice'], 0, 'no mail')
  const logged = failures(logs, 'new_device')
  t.equal(logged.length, 1, 'logged once')
  t.equal(logged[0]?.level, 40, 'as a warning')
  t.notMatch(JSON.stringify(logged), user.password, 'without the password')

  // Back: the same browser signs in again; its device was never recorded, so the notice is due now.
  await redis.start()
  const again = await onceBack(signIn, 10_000)
  t.equal(again.statusCode, 200, 'sign-in works again')
  await app.notify.settled()
  t.equal(await counted(app, 'new_device', 'sent'), 1, 'the new-device notice went out')
  t.equal(app.mail.stats.sent['security-notice'], 1)
})

t.test('PostgreSQL stopped when reuse detection signs a device out: the answer stands, the notice fails (logged, counted), and works once PostgreSQL is back', async (t) => {
  const pg = await startPostgres()
  t.teardown(() => pg.destroy())
  await applyMigrations(postgresAdapterFactory({ connectionString: pg.url, max: 1 }), dataMigrations)
  const { app, logs } = await build(t, 'postgres', { DATABASE_URL: pg.url, DEPENDENCY_TIMEOUT: String(TIMEOUT_MS / 1000), REFRESH_REUSE_INTERVAL: '0', LOG_LEVEL: 'warn' })
  const user = await register(app)

  /** A refresh token used twice: the second use revokes the session (refresh needs only Redis). */
  const reuse = async (refresh: string) => {
    t.equal((await post(app, '/api/token/refresh/', { refresh })).statusCode, 200, 'rotated')
    const started = Date.now()
    const replay = await post(app, '/api/token/refresh/', { refresh })
    t.equal(replay.statusCode, 401, 'the reuse is refused')
    t.ok(Date.now() - started < TIMEOUT_MS + SLACK_MS, 'and answered without waiting for the notice')
  }

  await pg.stop()
  await reuse(user.refresh)
  const took = await settleTime(app)
  t.ok(took < TIMEOUT_MS + SLACK_MS, `the failed lookup ended in ${took} ms`)
  t.equal(await counted(app, 'session_reuse', 'failed'), 1, 'counted as a failed session_reuse notice')
  t.equal(app.mail.stats.sent['security-notice'], 0, 'no mail')
  t.equal(failures(logs, 'session_reuse').length, 1, 'logged')
  const refused = await app.inject({ method: 'POST', url: '/api/token/refresh/', payload: { refresh: user.refresh } })
  t.equal(refused.statusCode, 401, 'the session stays revoked')

  await pg.start()
  const session = await onceBack(() => post(app, '/api/auth/login/', { username: user.username, password: user.password }), 10_000)
  t.equal(session.statusCode, 200, 'PostgreSQL is back')
  await reuse(session.json().refresh)
  await app.notify.settled()
  t.equal(await counted(app, 'session_reuse', 'sent'), 1, 'the next notice goes out')
  t.equal(app.mail.stats.sent['security-notice'], 1)
})
