// When a dependency fails. The database and the token store are called through a guard that turns
// their outages (down, slow past DEPENDENCY_TIMEOUT, refusing writes) into a DependencyError,
// which the app answers with a fast 503 instead of a 500; anything else (a bug) stays an error.
// Outages are logged as one warning per kind every few seconds, with the count of the ones not
// logged, instead of a stack trace per request.
import fp from 'fastify-plugin'
import type { FastifyBaseLogger } from 'fastify'
import { Counter, Histogram } from 'prom-client'
import { DependencyError, type Dependency } from './errors.js'
import { LATENCY_BUCKETS } from '../external/metrics.js'

/** A classifier: what kind of outage an error is (a short stable name), or null when it is not one. */
export type OutageOf = (err: unknown) => string | null

const message = (err: unknown) => (err instanceof Error ? err.message : String(err))
const code = (err: unknown) => (typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '')

// Redis refusing a command for what it is going through, not for what was asked.
const REDIS_REFUSALS = /^(OOM|READONLY|LOADING|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN|NOREPLICAS|MISCONF)\b/
const SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])

/**
 * ioredis: a connection that is down or gone, a command past its timeout, a refusal (OOM,
 * READONLY...), or a Cluster that cannot route the command now (slots moving, a master failing over).
 */
export const redisOutage: OutageOf = (err) => {
  if (!(err instanceof Error)) return null
  const m = err.message
  // The token store's writes that did not reach the replicas they must (WAIT).
  if (err.name === 'NotReplicatedError') return 'noreplicas'
  if (err.name === 'ReplyError') return REDIS_REFUSALS.exec(m)?.[1]?.toLowerCase() ?? null
  if (m === 'Command timed out') return 'timeout'
  if (err.name === 'MaxRetriesPerRequestError' || /enableOfflineQueue|Connection is closed|Stream isn't writeable/.test(m)) return 'down'
  if (/^(Too many Cluster redirections|Cluster isn't ready|Failed to refresh slots cache|None of startup nodes is available)/.test(m)) return 'cluster'
  if (/All sentinels are unreachable/.test(m)) return 'sentinel'
  if (SOCKET_ERRORS.has(code(err))) return 'down'
  return null
}

// PostgreSQL error classes that say the server cannot serve now: connection exceptions (08),
// insufficient resources (53), operator intervention (57: shutdown, cancelled by statement_timeout),
// a read-only transaction (25006: a replica), and could-not-serialize under load (40001).
const PG_OUTAGE = /^(08|53|57)|^25006$|^40001$/

/** Prisma over pg or PGlite: no connection, a timeout, or the server refusing for its state. */
export const databaseOutage: OutageOf = (err) => {
  if (!(err instanceof Error)) return null
  if (err.name === 'PrismaClientInitializationError') return 'down'
  const e = err as Error & { code?: string; meta?: { driverAdapterError?: { cause?: { kind?: string; originalCode?: string; code?: string } } } }
  const cause = e.meta?.driverAdapterError?.cause
  const sqlState = cause?.originalCode ?? cause?.code
  if (sqlState && PG_OUTAGE.test(sqlState)) return sqlState.startsWith('57014') ? 'timeout' : 'refused'
  if (cause?.kind && /NotReachable|Timeout|ConnectionClosed|TooManyConnections|SocketTimeout/i.test(cause.kind)) return cause.kind
  // Prisma's own codes for a server out of reach, a timeout, a closed connection, a pool timeout.
  if (e.code && ['P1001', 'P1002', 'P1008', 'P1017', 'P2024'].includes(e.code)) return e.code
  const m = message(err)
  if (/timeout|timed out|Connection terminated|connect ECONNREFUSED|ECONNRESET|Connection closed|the database system is (starting|shutting) down|terminating connection/i.test(m)) return 'down'
  if (SOCKET_ERRORS.has(code(err))) return 'down'
  return null
}

export interface Outages {
  /**
   * The same object whose promise-returning methods turn an outage into a DependencyError (for a
   * 503) and report it; every other error passes through unchanged.
   */
  guard<T extends object>(target: T, dependency: Dependency, outageOf: OutageOf): T
  /** Logs an outage: at most one warning per dependency and kind every REPORT_INTERVAL ms. */
  report(err: DependencyError): void
}

declare module 'fastify' {
  interface FastifyInstance {
    outages: Outages
  }
}

export const REPORT_INTERVAL = 5_000

/** One warning per key every `interval` ms, with how many were held back since the last one. */
export function throttledWarnings(log: FastifyBaseLogger, interval = REPORT_INTERVAL) {
  const seen = new Map<string, { at: number; held: number }>()
  return (key: string, fields: Record<string, unknown>, msg: string) => {
    const now = Date.now()
    const last = seen.get(key)
    if (last && now - last.at < interval) {
      last.held++
      return
    }
    seen.set(key, { at: now, held: 0 })
    log.warn({ ...fields, ...(last?.held ? { notLogged: last.held } : {}) }, msg)
  }
}

const metricName = (dependency: Dependency) => dependency.replace(/\W+/g, '_')

export default fp(
  async (fastify) => {
    const warn = throttledWarnings(fastify.log)
    const registers = [fastify.metrics.registry]
    const latency = new Histogram({
      name: 'auth_dependency_duration_seconds',
      help: 'Calls to the database and the token store by operation, failed ones included',
      labelNames: ['dependency', 'operation'] as const,
      buckets: LATENCY_BUCKETS,
      registers
    })
    const errors = new Counter({
      name: 'auth_dependency_errors_total',
      help: 'Outages of the database and the token store by kind (down, timeout, refused, readonly, noreplicas...), each answered 503',
      labelNames: ['dependency', 'kind'] as const,
      registers
    })

    const outages: Outages = {
      report(err) {
        errors.inc({ dependency: metricName(err.dependency), kind: err.kind })
        warn(`${err.dependency}:${err.kind}`, { dependency: err.dependency, kind: err.kind, cause: message(err.cause) }, `${err.dependency} unavailable`)
      },
      guard(target, dependency, outageOf) {
        const name = metricName(dependency)
        // One timer per operation, made once (label lookups per call are measurable).
        const timers = new Map<string, ReturnType<typeof latency.labels>>()
        const timer = (operation: string) => {
          let t = timers.get(operation)
          if (!t) timers.set(operation, (t = latency.labels(name, operation)))
          return t
        }
        const outage = (err: unknown) => {
          if (err instanceof DependencyError) return err
          const kind = outageOf(err)
          if (kind === null) return err
          const failure = new DependencyError(dependency, kind, { cause: err })
          outages.report(failure)
          return failure
        }
        return new Proxy(target, {
          get(obj, prop, receiver) {
            const value = Reflect.get(obj, prop, receiver) as unknown
            if (typeof value !== 'function') return value
            return (...args: unknown[]) => {
              const started = performance.now()
              const result = (value as (...a: unknown[]) => unknown).apply(obj, args)
              if (!(result instanceof Promise)) return result
              const observe = () => timer(String(prop)).observe((performance.now() - started) / 1000)
              return result.then(
                (v: unknown) => {
                  observe()
                  return v
                },
                (err: unknown) => {
                  observe()
                  throw outage(err)
                }
              )
            }
          }
        })
      }
    }
    fastify.decorate('outages', outages)
  },
  { name: 'outages', dependencies: ['metrics'] }
)
