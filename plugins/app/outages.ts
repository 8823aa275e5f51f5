// When a dependency fails. The database and the token store are called through a guard that turns
// their outages (down, slow past DEPENDENCY_TIMEOUT, refusing writes) into a DependencyError,
// which the app answers with a fast 503 instead of a 500; anything else (a bug) stays an error.
// What is an outage is each client's to say (external/redis-outage.ts, prisma/database-outage.ts).
// Outages are logged as one warning per kind every few seconds, with the count of the ones not
// logged, instead of a stack trace per request.
import fp from 'fastify-plugin'
import { Counter } from 'prom-client'
import { DependencyError, type Dependency } from './errors.js'
import { LATENCY_BUCKETS } from '../external/metrics.js'
import { FastHistogram, type HistogramSeries } from '../external/histogram.js'
import { errorMessage, type OutageOf } from '../external/outage.js'
import { throttledWarnings } from '../external/throttled-warnings.js'

export interface Outages {
  /**
   * The same object whose promise-returning methods turn an outage into a DependencyError (for a
   * 503) and report it; every other error passes through unchanged.
   */
  guard<T extends object>(target: T, dependency: Dependency, outageOf: OutageOf): T
  /** Logs an outage: at most one warning per dependency and kind every few seconds (throttledWarnings). */
  report(err: DependencyError): void
}

declare module 'fastify' {
  interface FastifyInstance {
    outages: Outages
  }
}

const metricName = (dependency: Dependency) => dependency.replace(/\W+/g, '_')

export default fp(
  async (fastify) => {
    const warn = throttledWarnings(fastify.log)
    const registers = [fastify.metrics.registry]
    const latency = new FastHistogram(
      'auth_dependency_duration_seconds',
      'Calls to the database and the token store by operation, failed ones included',
      ['dependency', 'operation'],
      LATENCY_BUCKETS,
      registers
    )
    const errors = new Counter({
      name: 'auth_dependency_errors_total',
      help: 'Outages of the database and the token store by kind (down, timeout, refused, readonly, noreplicas...), each answered 503',
      labelNames: ['dependency', 'kind'] as const,
      registers
    })

    const outages: Outages = {
      report (err) {
        errors.inc({ dependency: metricName(err.dependency), kind: err.kind })
        warn(`${err.dependency}:${err.kind}`, { dependency: err.dependency, kind: err.kind, cause: errorMessage(err.cause) }, `${err.dependency} unavailable`)
      },
      guard (target, dependency, outageOf) {
        const name = metricName(dependency)
        // One series per operation, made once (label lookups per call are measurable).
        const timers = new Map<string, HistogramSeries>()
        const timer = (operation: string) => {
          let t = timers.get(operation)
          if (!t) timers.set(operation, (t = latency.series(name, operation)))
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
        // One wrapper per method, made on first use (a new closure per call is measurable on the
        // hot paths).
        const wrapped = new Map<PropertyKey, { value: unknown; wrapper: (...args: unknown[]) => unknown }>()
        return new Proxy(target, {
          get (obj, prop, receiver) {
            const value = Reflect.get(obj, prop, receiver) as unknown
            if (typeof value !== 'function') return value
            const known = wrapped.get(prop)
            // (A method replaced on the target, as tests do to hold a call, gets a wrapper of its own.)
            if (known?.value === value) return known.wrapper
            const t = timer(String(prop))
            const wrapper = (...args: unknown[]) => {
              const started = performance.now()
              const result = (value as (...a: unknown[]) => unknown).apply(obj, args)
              if (!(result instanceof Promise)) return result
              return result.then(
                (v: unknown) => {
                  t.observe((performance.now() - started) / 1000)
                  return v
                },
                (err: unknown) => {
                  t.observe((performance.now() - started) / 1000)
                  throw outage(err)
                }
              )
            }
            wrapped.set(prop, { value, wrapper })
            return wrapper
          }
        })
      }
    }
    fastify.decorate('outages', outages)
  },
  { name: 'outages', dependencies: ['metrics'] }
)
