// One ioredis client per app, shared by the token store and the rate limiter, or null when
// REDIS_URL is unset (embedded mode). Every key gets config.redisKeyPrefix, so several
// deployments (or test runs) can share one Redis without seeing each other's data.
import fp from 'fastify-plugin'
import { Redis } from 'ioredis'

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis | null
  }
}

export default fp(
  async (fastify) => {
    const { redisUrl, redisKeyPrefix } = fastify.config
    if (!redisUrl) {
      fastify.decorate('redis', null)
      return
    }
    const redis = new Redis(redisUrl, {
      keyPrefix: redisKeyPrefix,
      // Fail fast instead of queueing forever when Redis is down: requests get a 503/500
      // quickly and /health/ready reports it.
      maxRetriesPerRequest: 2,
      enableOfflineQueue: true,
      lazyConnect: true
    })
    redis.on('error', (err) => fastify.log.warn({ err: { message: err.message } }, 'redis error'))
    await redis.connect()
    fastify.decorate('redis', redis)
    fastify.addHook('onClose', async () => {
      await redis.quit().catch(() => redis.disconnect())
    })
  },
  { name: 'redis', dependencies: ['config'] }
)
