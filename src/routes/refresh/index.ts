// The refresh route (SimpleJWT's /api/token/refresh/) and its two aliases under /api/auth/, with
// their one limiter: refreshes per session per minute, shared by the three URLs.
import type { FastifyRequest } from 'fastify'
import type { RouteInstance } from '../typed.js'
import Type from 'typebox'
import { fieldErrors, REQUIRED } from '../../../plugins/app/errors.js'
import type { TokenClaims } from '../../../plugins/app/tokens.js'
import { RefreshBodySchema, refreshTokenOf } from '../../schemas/routes.js'
import { bad, describe, throttledResponse, tokenErrorResponse, unavailableResponse } from '../responses.js'
import { clientOf } from '../client.js'

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
  const claimsOf = (request: FastifyRequest) => {
    if (request.refreshClaims === undefined) {
      const token = refreshTokenOf(request.body)
      request.refreshClaims = typeof token === 'string' ? fastify.tokens.verify(token) : null
    }
    return request.refreshClaims
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
          'after it, a non-current token of the session is reuse: the whole session is revoked and the answer is `Token is blacklisted`.',
        body: RefreshBodySchema,
        response: {
          200: describe(Type.Ref('TokenPair'), 'A new access token and the new current refresh token.'),
          400: bad('No refresh token in the body, or a malformed body.', { refresh: ['This field is required.'] }),
          401: tokenErrorResponse('Invalid, expired or access-type token; or a rotated (outside the grace interval) or revoked one: blacklisted.'),
          429: throttledResponse,
          503: unavailableResponse
        }
      },
      preHandler: limit,
      handler: async (request) => {
        if (refreshTokenOf(request.body) === undefined) throw fieldErrors({ refresh: [REQUIRED] })
        return fastify.accounts.refresh(claimsOf(request), clientOf(request))
      }
    })
  }
}
