// @fastify/rate-limit, with its counters in Redis when REDIS_URL is set so every instance
// shares them. Routes declare their own limits in `config.rateLimit`; the login failure limits
// (which count failures, not requests) are checked by the login flow through `loginThrottle`.
import rateLimit from '@fastify/rate-limit'
import fp from 'fastify-plugin'
import type { FastifyContextConfig, FastifyInstance, FastifyRequest } from 'fastify'
import { throttled } from '../../src/errors.js'

export interface LoginThrottle {
  /** Throws a 429 ApiError when a failure limit for (IP, username) or for the account is reached. */
  check(request: FastifyRequest, username: string): Promise<void>
  /** Counts one failed login for (IP, username) and for the account. */
  fail(request: FastifyRequest, username: string): Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    loginThrottle: LoginThrottle
    rateLimitEnabled: boolean
  }
}

const normalizeUsername = (u: string) => u.trim().toLowerCase()

export default fp(
  async (fastify: FastifyInstance) => {
    const limits = fastify.config.rateLimit
    fastify.decorate('rateLimitEnabled', limits.enabled)
    if (!limits.enabled) {
      fastify.decorate('loginThrottle', { check: async () => {}, fail: async () => {} })
      return
    }
    await fastify.register(rateLimit, {
      global: false,
      ...(fastify.redis ? { redis: fastify.redis } : {}),
      nameSpace: 'rl:',
      // Limits are a defence, not a dependency: if Redis hiccups, serve rather than fail.
      skipOnError: true,
      errorResponseBuilder: (_request, context) => throttled(Math.max(1, Math.ceil(context.ttl / 1000)))
    })

    // Keys carry the username given (not the account found), so unknown and known usernames
    // behave the same and the limits reveal nothing.
    const perUserIp = fastify.createRateLimit({
      max: limits.loginFailuresPerUserIp,
      timeWindow: 15 * 60 * 1000,
      keyGenerator: (req) => `lf:${req.ip}|${normalizeUsername((req.body as { username?: string }).username ?? '')}`
    })
    const perAccount = fastify.createRateLimit({
      max: limits.loginFailuresPerAccount,
      timeWindow: 60 * 60 * 1000,
      keyGenerator: (req) => `la:${normalizeUsername((req.body as { username?: string }).username ?? '')}`
    })
    const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000))

    fastify.decorate('loginThrottle', {
      async check(request) {
        const [a, b] = await Promise.all([perUserIp(request, { increment: false }), perAccount(request, { increment: false })])
        // `read` reports the current count; a further failure would exceed it.
        const blocked = [a, b].filter((s) => !s.isAllowed && (s.isExceeded || s.remaining <= 0))
        if (blocked.length > 0) {
          throw throttled(seconds(Math.max(...blocked.map((s) => (s.isAllowed ? 0 : s.ttl)))))
        }
      },
      async fail(request) {
        await Promise.all([perUserIp(request), perAccount(request)])
      }
    })
  },
  { name: 'rate-limit', dependencies: ['config', 'redis'] }
)

/** Route config for a per-IP limit shared by the routes of one group (register, login attempts). */
export function perIpLimit(fastify: FastifyInstance, max: number, timeWindowMs: number, groupId: string): FastifyContextConfig {
  return fastify.rateLimitEnabled ? { rateLimit: { max, timeWindow: timeWindowMs, groupId } } : {}
}
