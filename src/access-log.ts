// The access log: one line per request with plain fields, instead of Fastify's two lines built
// with pino's req/res serializers (building those cost about a fifth of the token routes'
// throughput). The hot routes' successes (hotRoute: a protected GET, verify, refresh) are sampled
// at ACCESS_LOG_SAMPLE (default 0.01; README, "The liveness cache"): they are most of the volume and tell least (every one is counted in
// auth_http_request_duration_seconds, and each refresh has its audit line). Every other request,
// and every failure anywhere, is logged.
import { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Bindings, ChildLoggerOptions, Level, LogFn, Logger } from 'pino'

type LogArgs = Parameters<LogFn>

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A route on the hot-path budget: its successes are sampled by the access log. */
    hotRoute?: boolean
  }
}

export class AccessLog extends LogController {
  readonly #sample: number
  constructor (sample: number) {
    super()
    this.#sample = sample
  }

  override incomingRequest (): void {}
  override requestCompleted (_error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (reply.statusCode < 400 && this.#sample < 1 && request.routeOptions.config.hotRoute === true && Math.random() >= this.#sample) return
    // The path only: a query string may carry a token (?access_token=...), which must not be logged.
    const query = request.url.indexOf('?')
    request.log.info(
      {
        method: request.method,
        url: query === -1 ? request.url : request.url.slice(0, query),
        statusCode: reply.statusCode,
        responseTime: Math.round(reply.elapsedTime * 100) / 100
      },
      'request completed'
    )
  }
}

/** The token routes on the hot-path budget besides the protected GETs: verify and refresh (and its aliases). */
const HOT_URLS = new Set(['/api/token/verify/', '/api/token/refresh/', '/api/auth/token/refresh/', '/api/auth/refresh/'])

/** Marks the hot routes added from now on (a protected GET: one whose onRequest is `authenticate`). */
export function markHotRoutes (fastify: FastifyInstance): void {
  fastify.addHook('onRoute', (route) => {
    const read = [route.method].flat().every((m) => m === 'GET' || m === 'HEAD')
    const hot = HOT_URLS.has(route.url) || (read && [route.onRequest].flat().includes(fastify.authenticate))
    if (hot) route.config = { ...route.config, hotRoute: true }
  })
}

/**
 * A request's logger, made on its first use: Fastify's default makes a pino child per request
 * (its bindings serialized each time), and most requests on the hot routes never log (their
 * access line is sampled, the audit log has a logger of its own). A call at a level the parent
 * does not write makes nothing. Installed as Fastify's childLoggerFactory.
 */
class RequestLogger {
  readonly #parent: Logger
  readonly #bindings: Bindings
  readonly #opts: ChildLoggerOptions
  #real: Logger | undefined
  constructor (parent: Logger, bindings: Bindings, opts: ChildLoggerOptions) {
    this.#parent = parent
    this.#bindings = bindings
    this.#opts = opts
  }

  #logger (): Logger {
    this.#real ??= this.#parent.child(this.#bindings, this.#opts)
    return this.#real
  }

  /** The real child, or undefined when nothing at `level` would be written. */
  #at (level: Level): Logger | undefined {
    if (this.#real === undefined && this.#opts.level === undefined && !this.#parent.isLevelEnabled(level)) return undefined
    return this.#logger()
  }

  get level (): string {
    return this.#real?.level ?? this.#opts.level ?? this.#parent.level
  }

  set level (level: string) {
    this.#logger().level = level
  }

  trace (...args: LogArgs): void {
    this.#at('trace')?.trace(...args)
  }

  debug (...args: LogArgs): void {
    this.#at('debug')?.debug(...args)
  }

  info (...args: LogArgs): void {
    this.#at('info')?.info(...args)
  }

  warn (...args: LogArgs): void {
    this.#at('warn')?.warn(...args)
  }

  error (...args: LogArgs): void {
    this.#at('error')?.error(...args)
  }

  fatal (...args: LogArgs): void {
    this.#at('fatal')?.fatal(...args)
  }

  silent (): void {}

  child (bindings: Bindings, opts?: ChildLoggerOptions): Logger {
    return this.#logger().child(bindings, opts)
  }
}

/** Fastify's childLoggerFactory: each request's logger made only when the request logs. */
export const lazyRequestLogger = (logger: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions): FastifyBaseLogger =>
  new RequestLogger(logger as Logger, bindings, opts) as unknown as FastifyBaseLogger
