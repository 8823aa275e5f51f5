// Password hashing and validation. bcrypt runs in a pool of worker threads (piscina), so a
// 250 ms hash never blocks the event loop; Django's validators run inline (microseconds).
import { randomBytes } from 'node:crypto'
import { availableParallelism } from 'node:os'
import fp from 'fastify-plugin'
import { Piscina } from 'piscina'
import bcrypt from 'bcryptjs'
import { loadCommonPasswords } from './common-passwords.js'
import { MAX_BYTES, validatePassword, type UserAttributes } from './validators.js'
import { Counter, Gauge, Histogram } from 'prom-client'
import { BREACHED, breachChecker } from './breached.js'
import { throttledWarnings } from '../../external/throttled-warnings.js'
import type { PasswordResult, PasswordTask } from './worker.js'

export type { UserAttributes } from './validators.js'

export interface Passwords {
  /** bcrypt at config.bcryptCost, off the event loop. Refuses more than 72 bytes rather than truncating. */
  hash(password: string): Promise<string>
  /**
   * Off the event loop. hash === null (unknown user), or a value that is not a bcrypt hash, is
   * compared against a dummy hash of the same cost, so it costs the time of a wrong password and
   * returns false. A wrong password against a hash of a lower cost than the configured one (made
   * before BCRYPT_COST was raised) is made to cost the configured one too (Django's
   * harden_runtime), so the time of a failed login does not tell which accounts exist. A
   * password over 72 bytes never matches (bcrypt would only read its start).
   */
  verify(password: string, hash: string | null): Promise<boolean>
  /** True when the hash's cost differs from config.bcryptCost (or it is not a bcrypt hash). */
  needsRehash(hash: string): boolean
  /** Django's four default validators with Django's messages and order, then the 72-byte rule; [] when valid. */
  validate(password: string, user?: UserAttributes): string[]
  /**
   * validate's messages, then, with PASSWORD_BREACH_CHECK=hibp, the breached-password check's
   * (skipped when the API does not answer within 2 s): every message of one 400.
   */
  check(password: string, user?: UserAttributes): Promise<string[]>
}

declare module 'fastify' {
  interface FastifyInstance {
    passwords: Passwords
  }
}

const BCRYPT_HASH = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/

/** The worker module beside the running code: worker.ts under tsx, worker.js once compiled to dist/. */
function workerFilename (): string {
  const ext = new URL(import.meta.url).pathname.endsWith('.ts') ? '.ts' : '.js'
  return new URL(`./worker${ext}`, import.meta.url).href
}

export default fp(
  async (fastify) => {
    const cost = fastify.config.bcryptCost
    const common = loadCommonPasswords()
    const threads = fastify.config.passwordWorkers ?? availableParallelism()
    const pool = new Piscina<PasswordTask, PasswordResult>({
      filename: workerFilename(),
      minThreads: threads,
      maxThreads: threads,
      // Workers stay up: starting one costs more than a hash.
      idleTimeout: Infinity
    })
    fastify.addHook('onClose', async () => {
      await pool.destroy()
    })

    // The pool's queue: how many tasks wait for a worker, and how long a task waited.
    const registers = [fastify.metrics.registry]
    // eslint-disable-next-line no-new -- prom-client registers the metric with the registry it is given
    new Gauge({
      name: 'auth_bcrypt_queue_depth',
      help: 'bcrypt tasks waiting for a worker thread',
      registers,
      collect () {
        this.set(pool.queueSize)
      }
    })
    const waited = new Histogram({
      name: 'auth_bcrypt_wait_seconds',
      help: 'Time a bcrypt task waited for a worker thread',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers
    })
    const worked = new Histogram({
      name: 'auth_bcrypt_duration_seconds',
      help: 'Time a worker thread spent on a bcrypt hash or compare',
      labelNames: ['op'] as const,
      buckets: [0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2],
      registers
    })
    const now = () => performance.timeOrigin + performance.now()
    const run = async (task: PasswordTask) => {
      const submitted = now()
      const [value, startedAt] = await pool.run(task)
      waited.observe(Math.max(0, startedAt - submitted) / 1000)
      worked.observe({ op: task.op }, Math.max(0, now() - startedAt) / 1000)
      return value
    }
    const runHash = async (password: string) => (await run({ op: 'hash', password, cost })) as string
    const runCompare = async (password: string, hash: string) => (await run({ op: 'compare', password, hash })) as boolean

    // Computed once, at the configured cost, so an unknown user costs what a known one does.
    const dummyHash = await runHash(randomBytes(18).toString('base64'))
    fastify.log.debug({ threads, cost, commonPasswords: common.size }, 'password pool ready')

    const tooLong = (password: string) => bcrypt.truncates(password)

    // The breached-password check, and how its checks went (a skipped one is also logged).
    const breachChecks = new Counter({
      name: 'auth_password_breach_checks_total',
      help: 'Breached-password checks (PASSWORD_BREACH_CHECK=hibp) by result: breached, clean, or skipped (no answer within 2 s, or a failing API)',
      labelNames: ['result'] as const,
      registers
    })
    const warn = throttledWarnings(fastify.log)
    const breach = fastify.config.passwordBreach?.check === 'hibp'
      ? breachChecker(fastify.config.passwordBreach.url, (reason, detail) => warn(`breach:${reason}`, { reason, detail }, 'breached-password check skipped'))
      : null
    if (breach) for (const result of ['breached', 'clean', 'skipped']) breachChecks.inc({ result }, 0)

    const passwords: Passwords = {
      async hash (password) {
        if (typeof password !== 'string') throw new TypeError('password must be a string')
        if (tooLong(password)) throw new RangeError(`password longer than ${MAX_BYTES} bytes would be truncated by bcrypt`)
        return runHash(password)
      },
      async verify (password, hash) {
        const stored = hash === null ? null : BCRYPT_HASH.exec(hash)
        const usable = typeof password === 'string' && stored !== null
        const typed = typeof password === 'string' ? password : ''
        const matched = await runCompare(typed, usable ? hash! : dummyHash)
        // Django's harden_runtime: the stored cost's compare, 2^(cost - stored) - 1 more times,
        // adds up to one compare at the configured cost (bcrypt's work doubles with each step).
        const storedCost = usable ? Number(stored[1]) : cost
        if (!matched && storedCost < cost) await run({ op: 'harden', password: typed, hash: hash!, times: 2 ** (cost - storedCost) - 1 })
        return usable && matched && !tooLong(password)
      },
      needsRehash (hash) {
        const m = BCRYPT_HASH.exec(hash)
        return m === null || Number(m[1]) !== cost
      },
      validate (password, user) {
        return validatePassword(password, user, common)
      },
      async check (password, user) {
        const messages = validatePassword(password, user, common)
        if (!breach) return messages
        const result = await breach(password)
        breachChecks.inc({ result })
        return result === 'breached' ? [...messages, BREACHED] : messages
      }
    }
    fastify.decorate('passwords', passwords)
  },
  { name: 'passwords', dependencies: ['config', 'metrics'] }
)
