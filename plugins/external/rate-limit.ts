// @fastify/rate-limit, with its counters in Redis when the app has a client so every instance
// shares them. Only the library: what is limited, and how, is the throttle plugin's
// (plugins/app/throttle.ts). Nothing is registered when limits are off (RATE_LIMIT_ENABLED=false).
import rateLimit from '@fastify/rate-limit'
import fp from 'fastify-plugin'
import { throttled } from '../app/errors.js'

export default fp(
  async (fastify) => {
    if (!fastify.config.rateLimit.enabled) return
    await fastify.register(rateLimit, {
      global: false,
      ...(fastify.redis ? { redis: fastify.redis } : {}),
      nameSpace: 'rl:',
      // Limits are a defence, not a dependency: if Redis hiccups, serve rather than fail.
      skipOnError: true,
      errorResponseBuilder: (_request, context) => throttled(Math.max(1, Math.ceil(context.ttl / 1000)))
    })
  },
  { name: 'rate-limit', dependencies: ['config', 'redis'] }
)
