// The refresh route (SimpleJWT's /api/token/refresh/) and its two aliases under /api/auth/, with
// their one limiter: refreshes per session per minute, shared by the three URLs.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { RouteInstance } from '../typed.js'
import Type from 'typebox'
import { ApiError, fieldErrors, REQUIRED } from '../../../plugins/app/errors.js'
import type { TokenClaims } from '../../../plugins/app/tokens.js'
import { RefreshBodySchema, refreshTokenOf } from '../../schemas/routes.js'
import { bad, csrfResponse, describe, throttledResponse, tokenErrorResponse, unavailableResponse } from '../responses.js'
import { clientOf } from '../client.js'
import { authModeHeaders, bodyOrRefreshCookie, setCookieHeader } from '../web-clients.js'

const MAIN = '/token/refresh/'
// Under the /api prefix. The aliases come first: the OpenAPI document lists the /api/auth paths together.
const URLS = [
  { url: '/auth/token/refresh/', operationId: 'apiAuthTokenRefresh' },
  { url: '/auth/refresh/', operationId: 'apiAuthRefresh' },
  { url: MAIN, operationId: 'refreshToken' }
]

declare module 'fastify' {
  interface FastifyRequest {
    /** The claims of the body's refresh token once verified (null: none or invalid; undefined: not yet). */
    refreshClaims: TokenClaims | null | undefined
  }
}

export default async function refreshRoutes (fastify: RouteInstance) {
  fastify.decorateRequest('refreshClaims', undefined)
  // The token is verified once per request, by whichever needs it first: the limit that keys on
  // it or the rotation (no hook of its own: with limits off, the rotation alone verifies it).
  const { webClients } = fastify
  // The body's token; in cookie mode, with none in the body, the refresh cookie's.
  const tokenOf = (request: FastifyRequest) => refreshTokenOf(request.body) ?? webClients.refreshCookie(request)
  const claimsOf = (request: FastifyRequest) => {
    if (request.refreshClaims === undefined) {
      const token = tokenOf(request)
      request.refreshClaims = typeof token === 'string' ? fastify.tokens.verify(token) : null
    }
    return request.refreshClaims
  }
  // Authenticated by the cookie (no token in the body): the CSRF check, before anything counts.
  const fromCookie = (request: FastifyRequest) => refreshTokenOf(request.body) === undefined && webClients.refreshCookie(request) !== undefined
  // (A callback hook: no promise per request on the hot path.)
  const csrf = (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void) => {
    try {
      if (fromCookie(request)) webClients.checkCsrf(request)
    } catch (err) {
      done(err as Error)
      return
    }
    done()
  }
  // A preHandler (it reads the body), counting the three URLs together. Only a refresh token
  // whose signature holds counts against its session: anyone can read a token's sid, so junk
  // tokens naming a victim's sid count against the sender's IP instead.
  const limit = fastify.throttle.perRequest({
    max: fastify.config.rateLimit.refreshesPerSession,
    timeWindow: 60_000,
    key: (request) => {
      const claims = claimsOf(request)
      return claims?.token_type === 'refresh' ? `refresh:s:${claims.sid}` : `refresh:ip:${request.ip}`
    }
  })

  for (const { url, operationId } of URLS) {
    fastify.post(url, {
      schema: {
        tags: ['tokens'],
        summary: url === MAIN ? 'Rotate a refresh token' : 'Rotate a refresh token (alias of /api/token/refresh/)',
        operationId,
        description:
          'Exchanges the current refresh token of a session for a new access + refresh pair and blacklists the old one. ' +
          'Within the grace interval (default 10 s) the same old token gets a new access token and the same new refresh token; ' +
          'after it, a non-current token of the session is reuse: the whole session is revoked and the answer is `Token is blacklisted`. ' +
          'In cookie mode (`X-Auth-Mode: cookie`) the token comes from the refresh cookie when the body has none, and the new one is set as the cookie.',
        body: RefreshBodySchema,
        headers: authModeHeaders,
        security: bodyOrRefreshCookie,
        response: {
          200: describe(Type.Ref('TokenPair'), 'A new access token and the new current refresh token (in cookie mode, as the refresh cookie).', undefined, setCookieHeader),
          400: bad('No refresh token in the body (nor a refresh cookie), or a malformed body.', { refresh: ['This field is required.'] }),
          401: {
            ...tokenErrorResponse('Invalid, expired or access-type token; or a rotated (outside the grace interval) or revoked one: blacklisted. A refused refresh cookie is cleared.'),
            headers: setCookieHeader
          },
          403: csrfResponse,
          429: throttledResponse,
          503: unavailableResponse
        }
      },
      preValidation: csrf,
      preHandler: limit,
      handler: async (request, reply) => {
        if (tokenOf(request) === undefined) throw fieldErrors({ refresh: [REQUIRED] })
        try {
          return webClients.deliver(request, reply, await fastify.accounts.refresh(claimsOf(request), clientOf(request)))
        } catch (err) {
          // The cookie's token is refused (invalid, expired, rotated, revoked): the cookie goes.
          if (err instanceof ApiError && err.statusCode === 401 && fromCookie(request)) webClients.clear(reply)
          throw err
        }
      }
    })
  }
}
