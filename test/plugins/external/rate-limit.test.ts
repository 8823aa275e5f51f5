// The rate-limit counters in Redis (plugins/external/rate-limit.ts) are named so that an operator
// reading Redis understands them: `<prefix>rl:<limit>:<bucket>` for the limits the throttle
// plugin makes (no route information in them), `<prefix>rl:<METHOD> <url>:<bucket>` for a
// limit declared on a route.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import configPlugin, { loadConfig } from '../../../plugins/app/config/index.js'
import redisPlugin from '../../../plugins/external/redis.js'
import rateLimitPlugin from '../../../plugins/external/rate-limit.js'
import { throttled } from '../../../plugins/app/errors.js'
import { build, claims, MODES, PASSWORD, post, register, TEST_SECRET } from '../../helper.js'
import { withPlugins } from '../../support/plugins.js'
import { keysUnder, redisEnv, testRedis } from '../../support/redis.js'

const IP = '127.0.0.1'
// What a counter's key may be, after the app's key prefix (README: the token store's Redis).
const ACCOUNT = String.raw`(user:[0-9a-f-]+|name:[^|]+)`
const SHAPES = [
  String.raw`rl:login:${IP}`,
  String.raw`rl:register:${IP}`,
  String.raw`rl:refresh:s:[\w-]+`,
  String.raw`rl:refresh:ip:${IP}`,
  String.raw`rl:failures-ip-account:${IP}\|${ACCOUNT}`,
  String.raw`rl:failures-account:${ACCOUNT}`,
  String.raw`rl:(reset|verify-mail)-ip:${IP}`,
  String.raw`rl:(reset|verify-mail)-email:[^:]+`
].map((s) => new RegExp(`^${s.replaceAll('.', String.raw`\.`)}$`))

for (const mode of MODES.filter((m) => m !== 'embedded')) {
  t.test(`every counter's key names its limit and its bucket (${mode})`, async (t) => {
    const { app, env } = await build(t, mode, { RATE_LIMIT_ENABLED: 'true' })
    const user = await register(app)
    t.equal((await post(app, '/api/auth/login/', { username: user.username, password: PASSWORD })).statusCode, 200)
    t.equal((await post(app, '/api/auth/login/', { username: user.username, password: 'Wr0ng-Passphrase!' })).statusCode, 401)
    t.equal((await post(app, '/api/auth/login/', { username: 'nobody-here', password: 'Wr0ng-Passphrase!' })).statusCode, 401)
    t.equal((await post(app, '/api/token/refresh/', { refresh: user.refresh })).statusCode, 200)
    t.equal((await post(app, '/api/auth/password/reset/', { email: user.email })).statusCode, 200)

    const keys = (await keysUnder(app.redis!, env.REDIS_KEY_PREFIX!)).filter((k) => k.startsWith('rl:')).sort()
    t.ok(keys.length >= 8, `the counters are there: ${keys.join(', ')}`)
    for (const key of keys) {
      t.notMatch(key, /undefined/, `${key}: no empty route information`)
      t.ok(SHAPES.some((shape) => shape.test(key)), `${key}: a documented shape`)
    }
    const folded = user.email.toLowerCase()
    t.same(
      keys,
      [
        'rl:failures-account:name:nobody-here',
        `rl:failures-account:user:${user.id}`,
        `rl:failures-ip-account:${IP}|name:nobody-here`,
        `rl:failures-ip-account:${IP}|user:${user.id}`,
        `rl:login:${IP}`,
        `rl:refresh:s:${String(claims(user.refresh).sid)}`,
        `rl:register:${IP}`,
        `rl:reset-email:${folded}`,
        `rl:reset-ip:${IP}`
      ].sort()
    )
  })
}

t.test('a limit declared on a route is named by its method and URL', async (t) => {
  const redis = await testRedis()
  t.teardown(() => redis.cleanup())
  const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: TEST_SECRET, DATA_DIR: t.testdir({}), ...redisEnv('single'), REDIS_KEY_PREFIX: redis.prefix })
  const { app } = await withPlugins(t, [
    [configPlugin, { config }],
    redisPlugin,
    [rateLimitPlugin, { tooMany: throttled }],
    async (f: FastifyInstance) => {
      f.get('/limited', { config: { rateLimit: { max: 5, timeWindow: 60_000 } } }, async () => ({ ok: true }))
    }
  ])
  t.equal((await app.inject({ method: 'GET', url: '/limited' })).statusCode, 200)
  t.same(await keysUnder(redis.redis, redis.prefix), [`rl:GET /limited:${IP}`])
})
