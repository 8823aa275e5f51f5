// @fastify/rate-limit, with its counters in Redis when the app has a client so every instance
// shares them. Only the library: what is limited, and how, is the throttle plugin's
// (plugins/app/throttle.ts), and the error a request over a limit gets is the app's (`tooMany`).
// Nothing is registered when limits are off (RATE_LIMIT_ENABLED=false).
import rateLimit from '@fastify/rate-limit'
import fp from 'fastify-plugin'
import { closeClient, duplicateClient, readyWithin } from './redis.js'

export interface RateLimitOptions {
  /** The error thrown for a request over a limit, given the seconds until it may try again. */
  tooMany: (retryAfterSeconds: number) => Error
}

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
      ...(redis ? { redis } : {}),
      nameSpace: 'rl:',
      // Limits are a defence, not a dependency: if Redis hiccups, serve rather than fail.
      skipOnError: true,
      errorResponseBuilder: (_request, context) => tooMany(Math.max(1, Math.ceil(context.ttl / 1000)))
    })
  },
  { name: 'rate-limit', dependencies: ['config', 'redis'] }
)
