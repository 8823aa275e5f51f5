// One ioredis client per app, shared by the token store and the rate limiter, or null when
// REDIS_URL is unset (embedded mode). Every key gets config.redisKeyPrefix, so several
// deployments (or test runs) can share one Redis without seeing each other's data.
import fp from 'fastify-plugin'
import { Redis } from 'ioredis'

/**
 * Every key matching a SCAN pattern, as the server names them. SCAN's MATCH is not prefixed by
 * ioredis's keyPrefix: the pattern must carry the prefix, and the keys come back with it.
 */
export async function scanKeys(redis: Redis, pattern: string, count = 1_000): Promise<string[]> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', count)
    cursor = next
    keys.push(...batch)
  } while (cursor !== '0')
  return keys
}

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
