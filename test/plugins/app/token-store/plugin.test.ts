// The plugin picks the store from the app's Redis client and passes the configured lifetimes on.
import { randomBytes, randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import t from 'tap'
import configPlugin from '../../../../plugins/app/config/index.js'
import tokenStorePlugin from '../../../../plugins/app/token-store/index.js'
import redisPlugin from '../../../../plugins/external/redis.js'
import { loadConfig } from '../../../../plugins/app/config/index.js'
import { sessionKey } from '../../../../plugins/app/token-store/index.js'
import { testRedis, TEST_REDIS_URL } from '../../../support/redis.js'

const ENV = {
  NODE_ENV: 'test',
  JWT_SECRET: 'test-secret-that-is-at-least-32-bytes-long!!',
  ACCESS_TOKEN_TTL: '60',
  REFRESH_TOKEN_TTL: '77',
  SESSION_MAX_AGE: '1000',
  REFRESH_REUSE_INTERVAL: '0'
}

async function app(env: Record<string, string>) {
  const logs: string[] = []
  const fastify = Fastify({
    logger: { level: 'info', stream: { write: (line: string) => void logs.push(JSON.parse(line).msg) } }
  })
  await fastify.register(configPlugin, { config: loadConfig({ ...ENV, ...env }) })
  await fastify.register(redisPlugin)
  await fastify.register(tokenStorePlugin)
  await fastify.ready()
  return { fastify, logs }
}

for (const mode of ['memory', 'redis'] as const) {
  t.test(`${mode}: the store and its options come from config`, async (t) => {
    const tr = mode === 'redis' ? await testRedis() : null
    t.teardown(async () => tr?.cleanup())
    const { fastify, logs } = await app(tr ? { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: tr.prefix } : {})
    t.teardown(() => fastify.close())
    const store = fastify.tokenStore
    t.equal(store.kind, mode)
    t.equal(logs.some((l) => /single instance/.test(l)), mode === 'memory', 'the single-instance warning only without Redis')

    const now = Date.now()
    const iat = Math.floor(now / 1000)
    const sid = randomBytes(16).toString('base64url')
    const userId = randomUUID()
    const jti = randomBytes(16).toString('base64url')
    t.same(await store.createSession({ sid, userId, jti, now }), { jti, iat, exp: iat + 77 }, 'REFRESH_TOKEN_TTL')
    t.equal((await store.rotate({ sid, userId, jti, newJti: 'x', now })).status, 'rotated')
    t.same(await store.rotate({ sid, userId, jti, newJti: 'y', now }), { status: 'reused' }, 'REFRESH_REUSE_INTERVAL=0: no grace')
    await t.resolves(store.ping())
    if (tr) t.same(await tr.redis.hgetall(sessionKey(sid)), { x: '1' }, "the app's prefix is used")
  })
}
