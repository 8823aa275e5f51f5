// @fastify/rate-limit, with its counters in Redis when REDIS_URL is set so every instance
// shares them. Routes declare their own limits in `config.rateLimit`; the login failure limits
// (which count failures, not requests) are checked by the login flow through `loginThrottle`.
import { createHash } from 'node:crypto'
import rateLimit from '@fastify/rate-limit'
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler, preHandlerAsyncHookHandler } from 'fastify'
import { throttled } from '../../src/errors.js'
import { refreshTokenOf } from '../../src/schemas/routes.js'

export interface LoginThrottle {
  /** Throws a 429 ApiError when a failure limit for (IP, username) or for the account is reached. */
  check(request: FastifyRequest, username: string): Promise<void>
  /** Counts one failed login for (IP, username) and for the account. */
  fail(request: FastifyRequest, username: string): Promise<void>
}

/** Hooks that count one request against a limit (empty when limits are off). */
export interface RouteLimits {
  /** Login and token obtain together: attempts per IP per minute. */
  login: onRequestAsyncHookHandler[]
  /** Registrations per IP per hour. */
  register: onRequestAsyncHookHandler[]
  /** Refreshes per session per minute; runs as a preHandler (it reads the body). */
  refresh: preHandlerAsyncHookHandler[]
}

declare module 'fastify' {
  interface FastifyInstance {
    loginThrottle: LoginThrottle
    routeLimits: RouteLimits
  }
}

/** The session a refresh request names, read without verification: it only picks a bucket. */
function unverifiedSid(request: FastifyRequest): string | null {
  const token = refreshTokenOf(request.body)
  const part = typeof token === 'string' ? token.split('.')[1] : undefined
  if (!part) return null
  try {
    const sid = (JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as { sid?: unknown }).sid
    return typeof sid === 'string' && sid.length <= 64 ? sid : null
  } catch {
    return null
  }
}

// Long names are hashed so an attacker cannot make the counters' keys large.
const normalizeUsername = (u: string) => {
  const n = u.trim().toLowerCase()
  return n.length <= 64 ? n : createHash('sha256').update(n).digest('base64url')
}

export default fp(
  async (fastify: FastifyInstance) => {
    const limits = fastify.config.rateLimit
    if (!limits.enabled) {
      fastify.decorate('loginThrottle', { check: async () => {}, fail: async () => {} })
      fastify.decorate('routeLimits', { login: [], register: [], refresh: [] })
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

    // One limiter per limit, shared by every route it covers (a route-level config would count
    // each route apart).
    fastify.decorate('routeLimits', {
      login: [fastify.rateLimit({ max: limits.loginAttemptsPerIp, timeWindow: 60_000, keyGenerator: (req) => `login:${req.ip}` })],
      register: [fastify.rateLimit({ max: limits.registrationsPerIp, timeWindow: 3_600_000, keyGenerator: (req) => `register:${req.ip}` })],
      refresh: [
        fastify.rateLimit({
          max: limits.refreshesPerSession,
          timeWindow: 60_000,
          keyGenerator: (req) => {
            const sid = unverifiedSid(req)
            return sid ? `refresh:s:${sid}` : `refresh:ip:${req.ip}`
          }
        })
      ]
    } as RouteLimits)

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
