// The app as a plugin: every plugin, the error handling and the routes. server.ts only
// starts and stops it; tests build the same app (buildApp) and use inject or a real socket.
import type { Server } from 'node:http'
import { Server as NetServer } from 'node:net'
import type { Duplex } from 'node:stream'
import Fastify, { type FastifyHttpOptions, type FastifyInstance, type FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import type { DestinationStream } from 'pino'
import sjson from 'secure-json-parse'
import { installErrorHandling } from './error-handler.js'
import { AccessLog, lazyRequestLogger, markHotRoutes } from './access-log.js'
import { commonSchemas } from './schemas/common.js'
import { authSchemas } from './schemas/auth.js'
import { MfaRequiredSchema } from './schemas/mfa.js'
import { adminSchemas } from './schemas/admin.js'
import { commonResponses, routelessResponses } from './routes/responses.js'
import configPlugin, { type Config } from '../plugins/app/config/index.js'
import { ApiError, throttled } from '../plugins/app/errors.js'
import outagesPlugin from '../plugins/app/outages.js'
import { dataMigrations } from '../plugins/app/data-migrations.js'
import cookiePlugin from '../plugins/external/cookie.js'
import corsPlugin from '../plugins/external/cors.js'
import metricsPlugin from '../plugins/external/metrics.js'
import redisPlugin from '../plugins/external/redis.js'
import prismaPlugin from '../plugins/external/prisma/index.js'
import rateLimitPlugin from '../plugins/external/rate-limit.js'
import swaggerPlugin from '../plugins/external/swagger.js'
import usersPlugin from '../plugins/app/users.js'
import passwordsPlugin from '../plugins/app/passwords/index.js'
import mailPlugin from '../plugins/app/mail/index.js'
import tokenStorePlugin from '../plugins/app/token-store/index.js'
import throttlePlugin from '../plugins/app/throttle.js'
import tokensPlugin from '../plugins/app/tokens.js'
import authPlugin from '../plugins/app/auth.js'
import auditPlugin from '../plugins/app/audit.js'
import accountsPlugin from '../plugins/app/accounts/index.js'
import notifyPlugin from '../plugins/app/notifications/index.js'
import adminPlugin from '../plugins/app/admin/index.js'
import mfaPlugin from '../plugins/app/mfa/index.js'
import passkeysPlugin from '../plugins/app/passkeys/index.js'
import webClientsPlugin from '../plugins/app/web-clients.js'
import adminRoutes from './routes/admin/index.js'
import authRoutes from './routes/auth/index.js'
import refreshRoutes from './routes/refresh/index.js'
import tokenRoutes from './routes/token/index.js'
import protectedRoutes from './routes/protected-endpoint/index.js'
import healthRoutes from './routes/health/index.js'
import wellKnownRoutes from './routes/well-known/index.js'
import metricsRoutes from './routes/metrics/index.js'
import { dialectOf, documentResponses, documentRouteless, installDialect, translateError } from './routes/profiles/index.js'
import accountPages from './routes/account/index.js'

export type ServerOptions = FastifyHttpOptions<Server>

export interface AppOptions {
  config: Config
}

const BODY_LIMIT = 32 * 1024
const SECURITY_HEADERS = { 'x-content-type-options': 'nosniff', 'cache-control': 'no-store', pragma: 'no-cache' }
/** How long a closing server leaves idle kept-alive connections open for a request on its way. */
const DRAIN_LINGER_MS = 500
const netServerClose = NetServer.prototype.close
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const openConnections = (server: Server) =>
  new Promise<number>((resolve) => server.getConnections((err, count) => resolve(err ? 0 : count)))

/** SECURITY_HEADERS as raw header lines, for the answers written on the socket itself. */
const SECURITY_HEADER_LINES = Object.entries(SECURITY_HEADERS).map(([name, value]) => `${name}: ${value}\r\n`).join('')

const CLIENT_ERRORS: Record<string, [number, string, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'Request timeout: the request was not received in time.'],
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'Request header fields too large.']
}

/**
 * Requests Node refuses before any route sees them (malformed HTTP, headers too large, a body
 * that trickles in past REQUEST_TIMEOUT) answered in the API's error shape instead of Node's or
 * Fastify's own bodies, with the headers every answer has; the socket is closed afterwards, as Node does.
 */
function clientErrorHandler (this: FastifyInstance, err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const [status, reason, detail] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'Bad Request', 'Bad request: the request is not valid HTTP.']
  this.log.debug({ code: err.code, status }, 'client error')
  if (socket.writable) {
    const dialect = dialectOf(this.config.apiProfile)
    const body = JSON.stringify(dialect ? translateError(dialect, undefined, status, { detail }) : { detail })
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `${SECURITY_HEADER_LINES}Connection: close\r\n\r\n${body}`
    )
  }
  socket.destroy(err)
}

/** Fastify's own options for this app (logger, proxy trust, validation, routing). */
export function serverOptions (config: Config, overrides: ServerOptions = {}, logStream?: DestinationStream): ServerOptions {
  const dialect = dialectOf(config.apiProfile)
  const errorBody = (status: number, detail: string) => (dialect ? translateError(dialect, undefined, status, { detail }) : { detail })
  return {
    logger: {
      level: config.logLevel,
      ...(logStream ? { stream: logStream } : {}),
      // Tokens and passwords never reach the log.
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie', 'req.body.password', 'req.body.password2'], censor: '[redacted]' }
    },
    // A hop count is accepted by Fastify (proxy-addr) although its types omit it.
    trustProxy: config.trustProxy as ServerOptions['trustProxy'],
    logController: new AccessLog(config.accessLogSample),
    childLoggerFactory: lazyRequestLogger,
    // A plugin may take more than Fastify's default 10 s to start on a loaded machine (seen in CI:
    // the embedded service's @fastify/swagger-ui, two cores shared with the test suite); a boot
    // that hangs still ends, after a minute.
    pluginTimeout: 60_000,
    bodyLimit: BODY_LIMIT,
    // A client that sends its request too slowly is cut off with a 408 (Node checks its open
    // connections every connectionsCheckingInterval; headers have to arrive within the same time).
    requestTimeout: config.timeouts.request,
    http: {
      connectionsCheckingInterval: Math.min(1_000, config.timeouts.request),
      headersTimeout: Math.min(60_000, config.timeouts.request)
    },
    // While draining (SIGTERM), requests that reach the service are answered, not refused with a
    // 503; their responses carry Connection: close.
    return503OnClosing: false,
    clientErrorHandler,
    // Errors of the router, before any hook: a path parameter over the router's length limit
    // names nothing (404, as an unknown id would be), a malformed percent-encoding is a 400; both
    // in the API's shape instead of Fastify's, with the headers every answer has.
    frameworkErrors: (error, _request, reply) => {
      const answer = reply as FastifyReply
      answer.headers(SECURITY_HEADERS)
      if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') return answer.code(404).send(errorBody(404, 'Not found.'))
      return answer.code(400).send(errorBody(400, 'Malformed URL.'))
    },
    routerOptions: { ignoreTrailingSlash: true },
    ajv: {
      customOptions: {
        // All problems at once, no silent type coercion; unknown fields are ignored as DRF does.
        allErrors: true,
        coerceTypes: false,
        removeAdditional: false
      }
    },
    ...overrides
  }
}

export const app = fp<AppOptions>(
  async (fastify, opts) => {
    await fastify.register(configPlugin, { config: opts.config })
    for (const warning of opts.config.warnings) fastify.log.warn(warning)
    for (const schema of [...commonSchemas, ...authSchemas, MfaRequiredSchema, ...adminSchemas]) fastify.addSchema(schema)

    // Bodies are JSON only: anything else is a 415.
    fastify.removeContentTypeParser(['text/plain'])
    // JSON bodies: an empty body is an empty object (DRF), proto poisoning is refused.
    fastify.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_request, body, done) => {
      const text = body as string
      if (text.trim() === '') return done(null, {})
      try {
        done(null, sjson.parse(text, { protoAction: 'error', constructorAction: 'error' }))
      } catch (err) {
        // The parser's own message (what and where), as DRF reports it.
        done(Object.assign(new SyntaxError((err as Error).message), { statusCode: 400 }), undefined)
      }
    })
    // A POST without any body validates as an empty object, so every missing field is named.
    // (A callback hook: no promise per request.)
    fastify.addHook('preValidation', (request, _reply, done) => {
      if (request.body === undefined && request.method === 'POST') request.body = {}
      done()
    })
    // API_PROFILE: the dialect of the HTTP edge (none under simplejwt, the contract itself).
    const dialect = dialectOf(opts.config.apiProfile)
    installErrorHandling(fastify, dialect ? (operationId, status, body) => translateError(dialect, operationId, status, body) : undefined)

    // Every answer: never sniffed as another type, never stored by a cache (tokens and user data,
    // RFC 6749 5.1; a route that publishes something cacheable, the JWKS, says so itself).
    // (A callback hook, not an async one: no promise per request on the hot path.)
    fastify.addHook('onRequest', (_request, reply, done) => {
      reply.headers(SECURITY_HEADERS)
      done()
    })

    // Graceful shutdown, before Fastify closes the server and runs the plugins' onClose hooks.
    // From close() on, Fastify answers every request with Connection: close. Here the listener
    // stops first (net.Server's close: http.Server's would also cut every idle socket at once,
    // including connections whose request is on its way); the connections that are busy take
    // their last answer and close by themselves; those still idle after a short linger are
    // closed; and the hook returns when every request in flight has been answered.
    fastify.addHook('preClose', async () => {
      const server = fastify.server
      if (!server.listening) return
      netServerClose.call(server)
      await sleep(DRAIN_LINGER_MS)
      while ((await openConnections(server)) > 0) {
        server.closeIdleConnections()
        await sleep(25)
      }
    })

    await fastify.register(metricsPlugin)
    await fastify.register(outagesPlugin)
    await fastify.register(corsPlugin)
    await fastify.register(cookiePlugin)
    await fastify.register(redisPlugin)
    await fastify.register(prismaPlugin, { dataMigrations })
    await fastify.register(usersPlugin)
    await fastify.register(passwordsPlugin)
    await fastify.register(mailPlugin)
    await fastify.register(tokenStorePlugin)
    await fastify.register(rateLimitPlugin, { tooMany: throttled })
    await fastify.register(throttlePlugin)
    await fastify.register(tokensPlugin)
    await fastify.register(webClientsPlugin)
    await fastify.register(authPlugin)
    await fastify.register(auditPlugin)
    await fastify.register(mfaPlugin)
    await fastify.register(passkeysPlugin)
    await fastify.register(notifyPlugin)
    await fastify.register(accountsPlugin)
    await fastify.register(adminPlugin)
    // The routes added from here on are rewritten for the dialect before the document reads them.
    if (dialect) installDialect(fastify, dialect)
    await fastify.register(swaggerPlugin, {
      commonResponses: dialect ? (methods) => documentResponses(dialect, undefined, commonResponses(methods)) : commonResponses,
      routelessResponses: dialect ? documentRouteless(dialect, routelessResponses) : routelessResponses,
      ...(dialect ? { note: dialect.summary } : {})
    })

    // The hot routes, whose successes the access log samples.
    markHotRoutes(fastify)

    // 404 for unknown paths, 405 for known paths with another method.
    const methodsByPath = new Map<string, Set<string>>()
    const normalize = (url: string) => url.split('?')[0]!.replace(/\/+$/, '') || '/'
    fastify.addHook('onRoute', (route) => {
      const methods = methodsByPath.get(normalize(route.url)) ?? new Set<string>()
      for (const m of [route.method].flat()) methods.add(m)
      methodsByPath.set(normalize(route.url), methods)
    })
    fastify.setNotFoundHandler(async (request) => {
      const allowed = methodsByPath.get(normalize(request.url))
      if (allowed && !allowed.has(request.method)) {
        throw new ApiError(405, { detail: `Method "${request.method}" not allowed.` }, { allow: [...allowed].sort().join(', ') })
      }
      throw new ApiError(404, { detail: 'Not found.' })
    })

    await fastify.register(authRoutes, { prefix: '/api/auth' })
    // /api/token/refresh/ and its two aliases under /api/auth/.
    await fastify.register(refreshRoutes, { prefix: '/api' })
    await fastify.register(tokenRoutes, { prefix: '/api/token' })
    await fastify.register(protectedRoutes, { prefix: '/api/protected-endpoint' })
    await fastify.register(healthRoutes, { prefix: '/health' })
    await fastify.register(wellKnownRoutes, { prefix: '/.well-known' })
    await fastify.register(adminRoutes, { prefix: '/api/admin' })
    await fastify.register(metricsRoutes, { prefix: '/metrics' })
    if (opts.config.accountPages) await fastify.register(accountPages, { prefix: '/account' })
  },
  { name: 'app' }
)

/** Builds a ready app from a config (tests, benchmark, server). */
export async function buildApp (config: Config, overrides: ServerOptions = {}, logStream?: DestinationStream): Promise<FastifyInstance> {
  const fastify = Fastify(serverOptions(config, overrides, logStream))
  try {
    await fastify.register(app, { config })
    await fastify.ready()
  } catch (err) {
    // A refusal at start (an evicting Redis, a data folder in use): release what did open.
    await fastify.close().catch(() => {})
    throw err
  }
  return fastify
}
