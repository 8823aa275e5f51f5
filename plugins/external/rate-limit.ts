// @fastify/rate-limit, with its counters in Redis when the app has a client so every instance
// shares them. Only the library: what is limited, and how, is the throttle plugin's
// (plugins/app/throttle.ts), and the error a request over a limit gets is the app's (`tooMany`).
// Nothing is registered when limits are off (RATE_LIMIT_ENABLED=false).
import { createRequire } from 'node:module'
import rateLimit, { type FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import fp from 'fastify-plugin'
import { closeClient, duplicateClient, readyWithin, type RedisClient } from './redis.js'

export interface RateLimitOptions {
  /** The error thrown for a request over a limit, given the seconds until it may try again. */
  tooMany: (retryAfterSeconds: number) => Error
}

/** What a limiter's store is made from: the merged options of a route's limit or of createRateLimit/rateLimit. */
interface LimitParams {
  continueExceeding: boolean
  exponentialBackoff: boolean
  /** The route of a limit declared on one (config.rateLimit); `{}` for createRateLimit/rateLimit. */
  routeInfo: { method?: string | string[]; url?: string }
}

// The store as the library calls it (its published types give child() a route's options instead).
interface RedisStoreInstance {
  readonly redis: RedisClient
  /** The prefix of every key of this store. */
  readonly key: string
  child(params: LimitParams): RedisStoreInstance
}

// The library's Redis store (its counting and reading scripts), which the package does not export by name.
const LibraryRedisStore = createRequire(import.meta.url)('@fastify/rate-limit/store/RedisStore.js') as new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  redis: RedisClient,
  key: string
) => RedisStoreInstance

/** The prefix of every counter's key (after the app's REDIS_KEY_PREFIX). */
const NAME_SPACE = 'rl:'

/**
 * The library's Redis store, with keys an operator can read: `rl:<key>` for a limiter of
 * createRateLimit/rateLimit, whose key names the limit (throttle.ts: `login:<ip>`,
 * `failures-account:<account>`, ...), and `rl:<METHOD> <url>:<key>` for a limit declared on a
 * route. The library's own child store appends `${method}${url}-` from the route, which is empty
 * for createRateLimit and rateLimit: `rl:undefinedundefined-login:<ip>`.
 */
class ReadableRedisStore extends LibraryRedisStore {
  override child ({ continueExceeding, exponentialBackoff, routeInfo }: LimitParams): ReadableRedisStore {
    const route = routeInfo.url === undefined ? '' : `${[routeInfo.method].flat().join(',')} ${routeInfo.url}:`
    return new ReadableRedisStore(continueExceeding, exponentialBackoff, this.redis, this.key + route)
  }
}

/** The constructor the plugin's `store` option takes: it is called with the plugin's options. */
const readableStore = (redis: RedisClient) =>
  class extends ReadableRedisStore {
    constructor ({ continueExceeding, exponentialBackoff }: LimitParams) {
      super(continueExceeding, exponentialBackoff, redis, NAME_SPACE)
    }
  } as unknown as FastifyRateLimitStoreCtor

export default fp<RateLimitOptions>(
  async (fastify, { tooMany }) => {
    if (!fastify.config.rateLimit.enabled) return
    // A client of its own with a short command timeout: a counter that cannot be read in time is
    // skipped (skipOnError), so a Redis that hangs costs a request a fifth of DEPENDENCY_TIMEOUT
    // here, not all of it before the request even starts its own work.
    const redis = fastify.redis ? duplicateClient(fastify.redis, { commandTimeout: Math.max(50, Math.round(fastify.config.timeouts.dependency / 5)) }) : null
    if (redis) {
      // Its failures are the main client's too, which reports them.
      redis.on('error', () => {})
      redis.connect().catch(() => {})
      // Counters that cannot be written are skipped: be connected before the first request.
      await readyWithin(redis, Math.max(fastify.config.timeouts.dependency, 2_000))
      fastify.addHook('onClose', async () => {
        await closeClient(redis)
      })
    }
    await fastify.register(rateLimit, {
      global: false,
      ...(redis ? { store: readableStore(redis) } : {}),
      // Limits are a defence, not a dependency: if Redis hiccups, serve rather than fail.
      skipOnError: true,
      errorResponseBuilder: (_request, context) => tooMany(Math.max(1, Math.ceil(context.ttl / 1000)))
    })
  },
  { name: 'rate-limit', dependencies: ['config', 'redis'] }
)
