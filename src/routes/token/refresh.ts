// The refresh route, served at /api/token/refresh/ and its two aliases under /api/auth/.
import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import { fieldErrors, REQUIRED } from '../../errors.js'
import { RefreshBodySchema } from '../../schemas/routes.js'
import { bad, describe, throttledResponse } from '../responses.js'

type RefreshBody = { refresh?: string; refreshToken?: string; refresh_token?: string }
export const refreshTokenOf = (body: RefreshBody) => body.refresh ?? body.refreshToken ?? body.refresh_token

export function registerRefreshRoute(fastify: FastifyInstance, url: string, hide = false) {
  fastify.post(url, {
    schema: {
      hide,
      tags: ['tokens'],
      summary: 'Rotate a refresh token',
      description:
        'Exchanges the current refresh token of a session for a new access + refresh pair and blacklists the old one. ' +
        'Within the grace interval the same old token gets the same new refresh token; after it, a non-current token revokes the whole session.',
      body: RefreshBodySchema,
      response: {
        200: describe(Type.Ref('TokenPair'), 'A new access token and the new current refresh token.'),
        400: bad('No refresh token in the body.'),
        401: describe(Type.Ref('TokenError'), 'Invalid, expired, access-type, rotated or revoked token.'),
        429: throttledResponse
      }
    },
    preHandler: fastify.routeLimits.refresh,
    handler: async (request) => {
      const token = refreshTokenOf(request.body as RefreshBody)
      if (token === undefined) throw fieldErrors({ refresh: [REQUIRED] })
      return fastify.accounts.refresh(token)
    }
  })
}
