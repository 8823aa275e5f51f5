// One ioredis client per app, shared by the token store and the rate limiter, or null when
// REDIS_URL is unset. Every key gets config.redisKeyPrefix, so several
// deployments (or test runs) can share one Redis without seeing each other's data.
import fp from 'fastify-plugin'
import { Redis } from 'ioredis'
import { throttledWarnings } from '../app/outages.js'

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

/** Resolves when the client is ready, or after `ms` (the caller goes on either way). */
export function readyWithin(redis: Redis, ms: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true)
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer)
      redis.off('ready', onReady)
      resolve(ok)
    }
    const onReady = () => done(true)
    const timer = setTimeout(() => done(false), ms)
    redis.on('ready', onReady)
  })
}

export default fp(
  async (fastify) => {
    const { redisUrl, redisKeyPrefix, timeouts } = fastify.config
    if (!redisUrl) {
      fastify.decorate('redis', null)
      return
    }
    const warn = throttledWarnings(fastify.log)
    const redis = new Redis(redisUrl, {
      keyPrefix: redisKeyPrefix,
      // Fail fast, never hang: a command waits at most DEPENDENCY_TIMEOUT, none waits for a
      // connection that is down (no offline queue, no retries), and a command whose connection
      // dropped fails instead of being sent again later. The caller answers 503.
      commandTimeout: timeouts.dependency,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectTimeout: Math.max(timeouts.dependency, 2_000),
      // Reconnect for as long as it takes: the service recovers by itself when Redis returns.
      retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
      lazyConnect: true
    })
    redis.on('error', (err: Error) => warn(`redis:${err.message}`, { err: { message: err.message } }, 'redis error'))
    // Not awaited as such: a Redis that is down at boot leaves the service up but not ready
    // (/health/ready), and the client keeps reconnecting.
    redis.connect().catch(() => {})
    await readyWithin(redis, Math.max(timeouts.dependency, 2_000))
    fastify.decorate('redis', redis)
    fastify.addHook('onClose', async () => {
      await redis.quit().catch(() => redis.disconnect())
    })
  },
  { name: 'redis', dependencies: ['config'] }
)
