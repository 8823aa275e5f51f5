// What is throttled, keyed by what it protects: request limits (login attempts and registrations
// per IP, and any limit a route declares with `perRequest`), and the login-failure policy, which
// counts failures, not requests, per (IP, account) and per account. The counters live in
// @fastify/rate-limit's store (plugins/external/rate-limit.ts): Redis when configured.
import { createHash } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import { throttled } from './errors.js'
import { foldEmail } from './users.js'

/** Hooks that count one request against a limit (none when limits are off); onRequest or preHandler. */
export type LimitHooks = onRequestAsyncHookHandler[]

export interface LimitSpec {
  /** Requests allowed per window. */
  max: number
  /** ms */
  timeWindow: number
  /** The bucket a request counts in; prefix it with the limit's name. */
  key: (request: FastifyRequest) => string
}

export interface Throttle {
  /** A request limit of its own, shared by every route that uses the returned hooks. */
  perRequest(spec: LimitSpec): LimitHooks
  /** Login and token obtain together: attempts per IP per minute. */
  loginAttempts: LimitHooks
  /** Registrations per IP per hour. */
  registrations: LimitHooks
  /**
   * Password reset requests, per IP and per email address (the body's `email`), per hour: a
   * preHandler (the body is read). A throttled request is a 429 whether or not the address exists.
   */
  passwordResets: LimitHooks
  /** Verification e-mails asked for again: the same limits as password resets, counted apart. */
  verificationEmails: LimitHooks
  /**
   * Throws a 429 ApiError when this IP has used up its failures on the account, or when the
   * account has used up its failures from all IPs together and this IP failed on it too. An IP
   * with no recent failure on the account may still try (the owner, while someone else guesses):
   * that is what keeps the account cap from locking the owner out.
   */
  checkLogin(ip: string, account: string): Promise<void>
  /** Counts one failed login for (ip, account) and for the account. */
  failLogin(ip: string, account: string): Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    throttle: Throttle
  }
}

// A bucket named by what a client typed (an account's folded name, an e-mail address): hashed
// when long, so an attacker cannot make keys large. Folding is the caller's: one owner each.
const bucketName = (typed: string) => (typed.length <= 64 ? typed : createHash('sha256').update(typed).digest('base64url'))

// createRateLimit's limiters take a request and read its key from the keyGenerator; the failure
// limits are keyed by explicit arguments instead, so they get a stand-in request holding the key.
const KEY = Symbol('throttle key')
type StandIn = FastifyRequest & { [KEY]: string }
const standIn = (key: string) => ({ routeOptions: { config: {} }, [KEY]: key }) as unknown as StandIn
const standInKey = (request: FastifyRequest) => (request as StandIn)[KEY]

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000))

export default fp(
  async (fastify) => {
    const limits = fastify.config.rateLimit
    if (!limits.enabled) {
      fastify.decorate('throttle', {
        perRequest: () => [],
        loginAttempts: [],
        registrations: [],
        passwordResets: [],
        verificationEmails: [],
        checkLogin: async () => {},
        failLogin: async () => {}
      } satisfies Throttle)
      return
    }

    const perRequest = ({ max, timeWindow, key }: LimitSpec): LimitHooks => [
      fastify.rateLimit({ max, timeWindow, keyGenerator: key }) as onRequestAsyncHookHandler
    ]
    // Keys carry the account (accounts passes the user's id, or the folded name that designates
    // nobody): a known and an unknown name are counted alike, so the limits reveal nothing.
    const perIpAccount = fastify.createRateLimit({ max: limits.loginFailuresPerUserIp, timeWindow: 15 * 60 * 1000, keyGenerator: standInKey })
    const perAccount = fastify.createRateLimit({ max: limits.loginFailuresPerAccount, timeWindow: 60 * 60 * 1000, keyGenerator: standInKey })
    // Limits on what mails a link: per IP, and per address typed (folded as the users table folds
    // it, hashed when long). Both are counted by one hook: @fastify/rate-limit runs only the first
    // of its own hooks on a request, so two of them on one route would leave the second uncounted.
    const mailLimits = (name: string): LimitHooks => {
      const window = 3_600_000
      const byIp = fastify.createRateLimit({ max: limits.passwordResetsPerIp, timeWindow: window, keyGenerator: standInKey })
      const byEmail = fastify.createRateLimit({ max: limits.passwordResetsPerEmail, timeWindow: window, keyGenerator: standInKey })
      return [
        async (request) => {
          const email = String((request.body as { email?: unknown } | null)?.email ?? '')
          const counts = await Promise.all([byIp(standIn(`${name}-ip:${request.ip}`)), byEmail(standIn(`${name}-email:${bucketName(foldEmail(email))}`))])
          const over = counts.flatMap((c) => (!c.isAllowed && c.isExceeded ? [c.ttl] : []))
          if (over.length > 0) throw throttled(seconds(Math.max(...over)))
        }
      ]
    }
    // `account` is what the limits protect, as accounts names it: `user:<id>` when the name
    // designates an account, else `name:<folded name>` (its own bucket).
    const buckets = (ip: string, account: string) => {
      const name = bucketName(account)
      return [standIn(`failures-ip-account:${ip}|${name}`), standIn(`failures-account:${name}`)] as const
    }

    fastify.decorate('throttle', {
      perRequest,
      loginAttempts: perRequest({ max: limits.loginAttemptsPerIp, timeWindow: 60_000, key: (req) => `login:${req.ip}` }),
      registrations: perRequest({ max: limits.registrationsPerIp, timeWindow: 3_600_000, key: (req) => `register:${req.ip}` }),
      passwordResets: mailLimits('reset'),
      verificationEmails: mailLimits('verify-mail'),
      async checkLogin (ip, account) {
        const [a, b] = buckets(ip, account)
        const [fromIp, overall] = await Promise.all([perIpAccount(a, { increment: false }), perAccount(b, { increment: false })])
        // Asked without counting, a limiter reports the count so far: no remaining attempt means a
        // further failure would exceed it.
        const exhausted = (s: typeof fromIp) => !s.isAllowed && (s.isExceeded || s.remaining <= 0)
        const failedHere = !fromIp.isAllowed && fromIp.remaining < fromIp.max
        const blocked = [...(exhausted(fromIp) ? [fromIp] : []), ...(exhausted(overall) && failedHere ? [overall] : [])]
        if (blocked.length > 0) throw throttled(seconds(Math.max(...blocked.map((s) => (s.isAllowed ? 0 : s.ttl)))))
      },
      async failLogin (ip, account) {
        const [a, b] = buckets(ip, account)
        await Promise.all([perIpAccount(a), perAccount(b)])
      }
    } satisfies Throttle)
  },
  { name: 'throttle', dependencies: ['config', 'rate-limit'] }
)
