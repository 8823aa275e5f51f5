// The refresh route, served at /api/token/refresh/ and its two aliases under /api/auth/.
import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import { fieldErrors, REQUIRED } from '../../errors.js'
import { RefreshBodySchema, refreshTokenOf } from '../../schemas/routes.js'
import { bad, describe, throttledResponse, tokenErrorResponse } from '../responses.js'


export function registerRefreshRoute(fastify: FastifyInstance, url: string, alias = false) {
  fastify.post(url, {
    schema: {
      tags: ['tokens'],
      summary: alias ? 'Rotate a refresh token (alias of /api/token/refresh/)' : 'Rotate a refresh token',
      // Aliases are named after their full path (apiAuthRefresh); operation ids must be unique.
      operationId: alias ? `${fastify.prefix}${url}`.replace(/\W+(\w)?/g, (_m, c: string = '') => c.toUpperCase()).replace(/^./, (c) => c.toLowerCase()) : 'refreshToken',
      description:
        'Exchanges the current refresh token of a session for a new access + refresh pair and blacklists the old one. ' +
        'Within the grace interval (default 10 s) the same old token gets a new access token and the same new refresh token; ' +
        'after it, a non-current token of the session is reuse: the whole session is revoked and the answer is `Token is blacklisted`.',
      body: RefreshBodySchema,
      response: {
        200: describe(Type.Ref('TokenPair'), 'A new access token and the new current refresh token.'),
        400: bad('No refresh token in the body, or a malformed body.', { refresh: ['This field is required.'] }),
        401: tokenErrorResponse('Invalid, expired or access-type token; or a rotated (outside the grace interval) or revoked one: blacklisted.'),
        429: throttledResponse
      }
    },
    preHandler: fastify.routeLimits.refresh,
    handler: async (request) => {
      const token = refreshTokenOf(request.body) as string | undefined
      if (token === undefined) throw fieldErrors({ refresh: [REQUIRED] })
      return fastify.accounts.refresh(token)
    }
  })
}
