// The refresh route, served at /api/token/refresh/ and its two aliases under /api/auth/.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import Type from 'typebox'
import { fieldErrors, REQUIRED } from '../../errors.js'
import { RefreshBodySchema } from '../../schemas/routes.js'
import { bad, describe, throttledResponse } from '../responses.js'

type RefreshBody = { refresh?: string; refreshToken?: string; refresh_token?: string }
export const refreshTokenOf = (body: RefreshBody) => body.refresh ?? body.refreshToken ?? body.refresh_token

function unverifiedSid(request: FastifyRequest): string | null {
  // Only used to pick a rate-limit bucket; the token is verified by the handler.
  const token = refreshTokenOf((request.body ?? {}) as RefreshBody)
  const part = typeof token === 'string' ? token.split('.')[1] : undefined
  if (!part) return null
  try {
    const sid = (JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as { sid?: unknown }).sid
    return typeof sid === 'string' && sid.length <= 64 ? sid : null
  } catch {
    return null
  }
}

export function registerRefreshRoute(fastify: FastifyInstance, url: string, hide = false) {
  const limits = fastify.config.rateLimit
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
    config: fastify.rateLimitEnabled
      ? {
          rateLimit: {
            max: limits.refreshesPerSession,
            timeWindow: 60_000,
            groupId: 'refresh',
            hook: 'preHandler',
            keyGenerator: (req: FastifyRequest) => {
              const sid = unverifiedSid(req)
              return sid ? `s:${sid}` : `ip:${req.ip}`
            }
          }
        }
      : {},
    handler: async (request) => {
      const token = refreshTokenOf(request.body as RefreshBody)
      if (token === undefined) throw fieldErrors({ refresh: [REQUIRED] })
      return fastify.accounts.refresh(token)
    }
  })
}
