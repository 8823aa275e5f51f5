// Sessions and refresh-token rotation, on the store the configuration names (TOKEN_STORE):
// Redis (shared by every instance, one round trip per operation) or the database the users live
// in (PostgreSQL, or the embedded PGlite). Both keep every record durable within their server's
// persistence; nothing is held only in this process.
import { randomBytes } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Counter, Gauge } from 'prom-client'
import { databaseOutage } from '../../external/prisma/database-outage.js'
import { redisOutage } from '../../external/redis-outage.js'
import { DatabaseTokenStore } from './database-store.js'
import { checkRedis } from './redis-check.js'
import { closeClient, duplicateClient, readyWithin } from '../../external/redis.js'
import { RedisTokenStore } from './redis-store.js'
import type { TokenStore, TokenStoreOptions } from './types.js'
import { LivenessCache } from './liveness/cache.js'
import { LivenessCachedStore } from './liveness/cached-store.js'
import { databaseNotices, DB_CHANNEL, type Notices, type NoticesOptions } from './liveness/notices.js'
import { redisNotices } from './liveness/redis-notices.js'
import { throttledWarnings } from '../../external/throttled-warnings.js'

export type { RotateResult, TokenStore, TokenStoreOptions } from './types.js'
export { DEVICE_LIMIT, DEVICE_WINDOW_MS } from './types.js'
export { packJti, packUserId, pieces, RedisTokenStore, sessionKey, sessionsOf, userKey } from './redis-store.js'
export { NotReplicatedError, writerOf } from './replication.js'
export { DatabaseTokenStore } from './database-store.js'
export { LivenessCachedStore } from './liveness/cached-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    tokenStore: TokenStore
  }
}

/** Connections for writes that wait for replicas: as many WAITs at once per instance. */
const WRITE_CONNECTIONS = 4

export default fp(
  async (fastify) => {
    const { config, redis, prisma } = fastify
    const options: TokenStoreOptions = {
      accessTtl: config.accessTokenTtl,
      refreshTtl: config.refreshTokenTtl,
      sessionMaxAge: config.sessionMaxAge,
      reuseInterval: config.refreshReuseInterval
    }
    let store: TokenStore
    if (config.tokenStore === 'redis') {
      if (!redis) throw new Error('token store: TOKEN_STORE=redis without a Redis client')
      // Writes that wait for replicas get connections of their own (WAIT holds its connection).
      const writers = config.redisWaitReplicas > 0 ? Array.from({ length: WRITE_CONNECTIONS }, () => duplicateClient(redis, {})) : []
      for (const writer of writers) {
        // Its failures are the main client's too, which reports them.
        writer.on('error', () => {})
        writer.connect().catch(() => {})
      }
      // Connected before the first request, as the main client is (a write on a connection still
      // opening would be a 503); a Redis that is down at boot is not waited for longer than it is.
      await Promise.all(writers.map((w) => readyWithin(w, Math.max(config.timeouts.dependency, 2_000))))
      fastify.addHook('onClose', async () => {
        await Promise.all(writers.map(closeClient))
      })
      store = new RedisTokenStore(redis, options, {
        replicas: config.redisWaitReplicas,
        timeoutMs: Math.max(10, Math.floor(config.timeouts.dependency / 2)),
        writers
      })
      const judge = async () => {
        const { refusal, warning } = await checkRedis(redis)
        if (warning) fastify.log.warn(warning)
        return refusal
      }
      if (redis.status === 'ready') {
        const refusal = await judge()
        if (refusal) throw new Error(refusal)
      } else {
        // Redis was down at boot: judge it when it comes. A refused one stops the service.
        redis.once('ready', () => {
          judge().then(
            (refusal) => {
              if (!refusal) return
              fastify.log.fatal(refusal)
              process.exitCode = 1
              void fastify.close()
            },
            (err: Error) => fastify.log.warn({ err: { message: err.message } }, 'could not check Redis for the token store')
          )
        })
      }
    } else {
      store = new DatabaseTokenStore(prisma, options)
    }
    let door = fastify.outages.guard(store, 'token store', store.kind === 'redis' ? redisOutage : databaseOutage)
    const { size, ttlMs, heartbeatMs } = config.livenessCache
    if (size > 0) {
      const cache = new LivenessCache({ size, ttlMs })
      const warn = throttledWarnings(fastify.log)
      const options: NoticesOptions = {
        instance: randomBytes(6).toString('base64url'),
        heartbeatMs,
        warn: (err) => warn('liveness-channel', { err: { message: err.message } }, 'liveness cache: invalidation channel not set up (cache bypassed)')
      }
      let notices: Notices
      if (store.kind === 'redis' && redis) notices = redisNotices(redis, cache, options)
      else {
        notices = databaseNotices(
          fastify.dbListen,
          async (payload) => {
            await prisma.$queryRaw`SELECT 1 AS sent FROM pg_notify(${DB_CHANNEL}::text, ${payload}::text)`
          },
          cache,
          options
        )
      }
      livenessMetrics(fastify, cache)
      door = new LivenessCachedStore(door, cache, notices)
    }
    fastify.log.info({ tokenStore: store.kind, livenessCache: size }, 'token store')
    fastify.decorate('tokenStore', door)
    fastify.addHook('onClose', async () => {
      await door.close()
    })
  },
  { name: 'token-store', dependencies: ['config', 'outages', 'redis', 'prisma', 'metrics'] }
)

/** The cache's counts as Prometheus metrics, read at each scrape (nothing is done per request). */
function livenessMetrics (fastify: FastifyInstance, cache: LivenessCache): Array<Counter | Gauge> {
  const registers = [fastify.metrics.registry]
  const { counts } = cache
  return [
    new Counter({
      name: 'auth_liveness_cache_lookups_total',
      help: 'Session liveness checks by result: hit (answered from memory), miss (asked the store, then cached), bypass (asked the store: the invalidation channel was not confirmed)',
      labelNames: ['result'] as const,
      registers,
      collect () {
        this.reset()
        this.inc({ result: 'hit' }, counts.hits)
        this.inc({ result: 'miss' }, counts.misses)
        this.inc({ result: 'bypass' }, counts.bypassed)
      }
    }),
    new Counter({
      name: 'auth_liveness_cache_invalidations_total',
      help: 'Cached sessions dropped because the store said they died (or this instance revoked them)',
      registers,
      collect () {
        this.reset()
        this.inc(counts.invalidations)
      }
    }),
    new Counter({
      name: 'auth_liveness_cache_flushes_total',
      help: 'Times the liveness cache was emptied: its invalidation channel dropped, lagged or reconnected, or the store was flushed',
      registers,
      collect () {
        this.reset()
        this.inc(counts.flushes)
      }
    }),
    new Gauge({
      name: 'auth_liveness_cache_entries',
      help: 'Sessions the liveness cache holds',
      registers,
      collect () {
        this.set(cache.size)
      }
    }),
    new Gauge({
      name: 'auth_liveness_cache_confirmed',
      help: '1 while the invalidation channel is confirmed and the cache answers; 0 while it is bypassed',
      registers,
      collect () {
        this.set(cache.usable ? 1 : 0)
      }
    })
  ]
}
