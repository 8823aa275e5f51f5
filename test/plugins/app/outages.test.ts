// The outages guard: a classifier's outages become a DependencyError (a 503), every other error
// passes through.
import { Registry } from 'prom-client'
import t from 'tap'
import { DependencyError } from '../../../plugins/app/errors.js'
import outagesPlugin from '../../../plugins/app/outages.js'
import { redisOutage } from '../../../plugins/external/redis-outage.js'
import { stub, withPlugins } from '../../support/plugins.js'

t.test('the guard turns outages into DependencyError and lets everything else through', async (t) => {
  const { app } = await withPlugins(t, [stub('metrics', { registry: new Registry(), allowed: () => false, port: null }), outagesPlugin])
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
