// The plugin picks the store from TOKEN_STORE (default: Redis when REDIS_URL is set, else the
// database), passes the configured lifetimes on, and refuses a Redis that may evict sessions.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import configPlugin, { loadConfig } from '../../../../plugins/app/config/index.js'
import outagesPlugin from '../../../../plugins/app/outages.js'
import tokenStorePlugin, { sessionKey } from '../../../../plugins/app/token-store/index.js'
import { dataMigrations } from '../../../../plugins/app/data-migrations.js'
import prismaPlugin from '../../../../plugins/external/prisma/index.js'
import redisPlugin from '../../../../plugins/external/redis.js'
import metricsPlugin from '../../../../plugins/external/metrics.js'
import { createTestDatabase, createTestDataDir } from '../../../support/db.js'
import { testRedis, TEST_REDIS_URL } from '../../../support/redis.js'
import { startRedis } from '../../../support/servers.js'
import { withPlugins, type PluginEntry } from '../../../support/plugins.js'
import { newId } from '../../../../plugins/app/ids.js'

const ENV = {
  NODE_ENV: 'test',
  JWT_SECRET: 'test-secret-that-is-at-least-32-bytes-long!!',
  ACCESS_TOKEN_TTL: '60',
  REFRESH_TOKEN_TTL: '77',
  SESSION_MAX_AGE: '1000',
  REFRESH_REUSE_INTERVAL: '0'
}

async function app (env: Record<string, string>) {
  const config = loadConfig({ ...ENV, ...env })
  const plugins: PluginEntry[] = [[configPlugin, { config }], metricsPlugin, outagesPlugin, redisPlugin, [prismaPlugin, { dataMigrations }], tokenStorePlugin]
  const { app: fastify, logs } = await withPlugins(null, plugins, { logLevel: 'info' })
  return { fastify, logs }
}

const session = () => ({ sid: newId(), userId: randomUUID(), jti: newId() })

for (const mode of ['embedded', 'postgres', 'redis', 'postgres + TOKEN_STORE=database'] as const) {
  t.test(`${mode}: the store and its options come from config`, async (t) => {
    const env: Record<string, string> = {}
    if (mode === 'embedded') {
      const data = await createTestDataDir()
      t.teardown(() => data.cleanup())
      env.DATA_DIR = data.dir
    } else {
      const db = await createTestDatabase()
      t.teardown(() => db.drop())
      const tr = await testRedis()
      t.teardown(() => tr.cleanup())
      Object.assign(env, { DATABASE_URL: db.url, REDIS_KEY_PREFIX: tr.prefix })
      if (mode !== 'postgres') env.REDIS_URL = TEST_REDIS_URL
      if (mode === 'postgres + TOKEN_STORE=database') env.TOKEN_STORE = 'database'
    }
    const { fastify } = await app(env)
    t.teardown(() => fastify.close())
    const store = fastify.tokenStore
    t.equal(store.kind, mode === 'redis' ? 'redis' : 'database')

    const now = Date.now()
    const iat = Math.floor(now / 1000)
    const s = session()
    t.same(await store.createSession({ ...s, now, ip: '192.0.2.1', userAgent: 'test' }), { jti: s.jti, iat, exp: iat + 77 }, 'REFRESH_TOKEN_TTL')
    t.equal((await store.rotate({ ...s, newJti: newId(), now })).status, 'rotated')
    t.same(await store.rotate({ ...s, newJti: newId(), now }), { status: 'reused' }, 'REFRESH_REUSE_INTERVAL=0: no grace')
    await t.resolves(store.ping())
    if (mode === 'redis') t.same(await fastify.redis!.hgetall(sessionKey(s)), { x: '1' }, "the app's prefix is used")
    else t.match(await fastify.prisma.session.findUnique({ where: { sid: s.sid } }), { revoked: true })
  })
}

t.test('TOKEN_STORE=redis needs REDIS_URL', async (t) => {
  t.throws(() => loadConfig({ ...ENV, TOKEN_STORE: 'redis' }), /TOKEN_STORE: "redis" needs REDIS_URL/)
  t.throws(() => loadConfig({ ...ENV, TOKEN_STORE: 'memory' }), /TOKEN_STORE/)
})

t.test('a Redis that may evict keys is refused, naming its policy', async (t) => {
  for (const policy of ['allkeys-lru', 'volatile-ttl']) {
    const redis = await startRedis(['--maxmemory-policy', policy])
    t.teardown(() => redis.destroy())
    const data = await createTestDataDir()
    t.teardown(() => data.cleanup())
    const err = await app({ DATA_DIR: data.dir, REDIS_URL: redis.url }).catch((e: unknown) => e)
    t.match(err, { message: new RegExp(`maxmemory-policy is "${policy}".*noeviction`) }, policy)
  }
})

t.test('a Redis that keeps nothing on disk: a warning that a restart logs everyone out', async (t) => {
  const bare = await startRedis(['--appendonly', 'no', '--save', ''])
  t.teardown(() => bare.destroy())
  const durable = await startRedis()
  t.teardown(() => durable.destroy())
  const data = await createTestDataDir()
  t.teardown(() => data.cleanup())
  for (const [redis, warned] of [[bare, true], [durable, false]] as const) {
    const { fastify, logs } = await app({ DATA_DIR: data.dir, REDIS_URL: redis.url })
    await fastify.close()
    const warning = logs.find((l) => /restart would log every user out/.test(l.msg))
    t.equal(Boolean(warning), warned, warned ? 'no AOF, no RDB: warned' : 'appendonly yes: no warning')
    if (warning) t.equal(warning.level, 40, 'a warning')
  }
})
