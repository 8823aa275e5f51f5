// The outages guard: which errors are outages (a 503) and which are not (a bug stays a 500), and
// one warning per kind every few seconds instead of one per request.
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import { Registry } from 'prom-client'
import { ReplyError } from 'ioredis'
import t from 'tap'
import { DependencyError } from '../../../plugins/app/errors.js'
import outagesPlugin, { databaseOutage, redisOutage, throttledWarnings } from '../../../plugins/app/outages.js'

const coded = (message: string, code: string) => Object.assign(new Error(message), { code })

t.test('Redis: down, timed out and refusing writes are outages; anything else is not', async (t) => {
  t.equal(redisOutage(new Error('Command timed out')), 'timeout')
  t.equal(redisOutage(new Error("Stream isn't writeable and enableOfflineQueue options is false")), 'down')
  t.equal(redisOutage(new Error('Connection is closed.')), 'down')
  t.equal(redisOutage(coded('connect ECONNREFUSED 127.0.0.1:6379', 'ECONNREFUSED')), 'down')
  t.equal(redisOutage(new ReplyError("OOM command not allowed when used memory > 'maxmemory'.")), 'oom')
  t.equal(redisOutage(new ReplyError("READONLY You can't write against a read only replica.")), 'readonly')
  t.equal(redisOutage(new ReplyError('LOADING Redis is loading the dataset in memory')), 'loading')
  t.equal(redisOutage(new ReplyError('ERR Error running script (call to f_x): bad argument')), null, 'a script bug')
  t.equal(redisOutage(new TypeError('x is not a function')), null)
})

t.test('database: unreachable, timed out, shutting down or read-only are outages; a constraint is not', async (t) => {
  const adapter = (originalCode: string, kind = 'postgres') =>
    Object.assign(new Error('query failed'), { name: 'PrismaClientKnownRequestError', code: 'P2010', meta: { driverAdapterError: { cause: { kind, originalCode } } } })
  t.equal(databaseOutage(adapter('57014')), 'timeout', 'statement_timeout')
  t.equal(databaseOutage(adapter('57P01')), 'refused', 'admin shutdown')
  t.equal(databaseOutage(adapter('08006')), 'refused', 'connection failure')
  t.equal(databaseOutage(adapter('25006')), 'refused', 'read-only transaction')
  t.equal(databaseOutage(adapter('23505')), null, 'a unique violation is the caller’s business')
  t.equal(databaseOutage(adapter('42703')), null, 'an undefined column is a bug')
  t.equal(databaseOutage(Object.assign(new Error('x'), { name: 'PrismaClientInitializationError' })), 'down')
  t.equal(databaseOutage(coded('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')), 'down')
  t.equal(databaseOutage(new Error('timeout exceeded when trying to connect')), 'down')
  t.equal(databaseOutage(new Error('Query read timeout')), 'down')
  t.equal(databaseOutage(new RangeError('Invalid array length')), null)
})

t.test('the guard turns outages into DependencyError and lets everything else through', async (t) => {
  const app = Fastify()
  await app.register(fp(async (f) => void f.decorate('metrics', { registry: new Registry(), allowed: () => false, port: null }), { name: 'metrics' }))
  await app.register(outagesPlugin)
  await app.ready()
  t.teardown(() => app.close())
  const target = {
    value: 42,
    down: async () => {
      throw new Error('Command timed out')
    },
    bug: async () => {
      throw new TypeError('oops')
    },
    ok: async (x: number) => x * 2,
    sync: (x: number) => x + 1
  }
  const guarded = app.outages.guard(target, 'token store', redisOutage)
  const err = await guarded.down().catch((e: unknown) => e)
  t.type(err, DependencyError)
  t.match(err, { dependency: 'token store', kind: 'timeout', message: 'token store unavailable (timeout)' })
  t.match((err as Error).cause, { message: 'Command timed out' }, 'the cause is kept')
  t.type(await guarded.bug().catch((e: unknown) => e), TypeError)
  t.equal(await guarded.ok(2), 4)
  t.equal(guarded.sync(1), 2)
  t.equal(guarded.value, 42)
})

t.test('one warning per kind every interval, with the count of those not logged', async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const log = { warn: (fields: Record<string, unknown>, msg: string) => lines.push({ ...fields, msg }) }
  const warn = throttledWarnings(log as never, 200)
  for (let i = 0; i < 50; i++) warn('redis:down', { n: i }, 'redis unavailable')
  warn('database:timeout', {}, 'database unavailable')
  t.equal(lines.length, 2, '51 failures, two kinds: two lines')
  await new Promise((r) => setTimeout(r, 250))
  warn('redis:down', {}, 'redis unavailable')
  t.equal(lines.length, 3)
  t.equal(lines[2]!.notLogged, 49, 'the next line says how many were held back')
})
