// The OpenAPI 3.1 document, built by @fastify/swagger from the routes' TypeBox schemas, served
// at /openapi.json, with a browsable reference at /docs whose assets ship in the package (it
// works offline: no CDN, no online validator). openapi.yaml is written from the same document
// by scripts/openapi.ts. The answers every route can give whatever its handler does (they come
// from the app's error handling) are the app's to say: passed in as options.
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import type { FastifySchema } from 'fastify'

export interface DocumentOptions {
  /** Response entries added to every documented route that lacks them, by the route's methods. */
  commonResponses?: (methods: string[]) => Record<string, unknown>
  /** Answers no route gives (404, 405), documented under components/responses. */
  routelessResponses?: Record<string, object>
  /** A paragraph added to the document's description (the API profile in force). */
  note?: string
}

export const API_DESCRIPTION = `JWT authentication: register, log in, rotate refresh tokens (with a grace interval and reuse
detection that revokes the whole session), verify, log out. Request and response conventions follow Django REST
framework + SimpleJWT 5.x (paths, field names, messages, status codes); where the contract is silent the service does
what SimpleJWT / DRF 3.14 do. Every path also answers without its trailing slash. Bodies are JSON only (415 otherwise),
at most 32 KiB (413). Unknown paths answer 404 and known paths with another method 405 (see components/responses).
CORS preflight requests (OPTIONS) are answered for the configured origins only and are not listed as operations.

**Tokens.** Access (default 5 minutes) and refresh (1 day) tokens are JWTs with SimpleJWT's claims
(\`token_type\`, \`user_id\`, \`jti\`, \`iat\`, \`exp\`) plus \`sid\`, the session; HS256 by default, RS256/ES256/EdDSA
public keys at /.well-known/jwks.json. Each login starts a session (at most 30 days). A refresh rotates the
session's current refresh token; the same old token again within the grace interval (default 10 s) gets the same
new refresh token, and after it a non-current token revokes the whole session (reuse detection). Logout revokes
at once: access tokens of a revoked session are refused from the next request on.`

export default fp<DocumentOptions>(
  async (fastify, { commonResponses = () => ({}), routelessResponses = {}, note }) => {
    // Before @fastify/swagger's own onRoute hook, so the document sees the added entries too:
    // every route documents the answers it can give whatever its handler does.
    fastify.addHook('onRoute', (route) => {
      const schema = route.schema as (FastifySchema & { hide?: boolean; response?: Record<string, unknown> }) | undefined
      if (!schema || schema.hide || !schema.response) return
      const methods = [route.method].flat().map(String)
      route.schema = { ...schema, response: { ...commonResponses(methods), ...schema.response } } as FastifySchema
    })

    await fastify.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Auth service',
          version: '1.0.0',
          description: note ? `${API_DESCRIPTION}\n\n${note}` : API_DESCRIPTION
        },
        servers: [{ url: '/', description: 'This server' }],
        tags: [
          { name: 'auth', description: 'Accounts and sessions' },
          { name: 'tokens', description: 'SimpleJWT token endpoints and keys' },
          { name: 'operations', description: 'Health checks' },
          { name: 'admin', description: 'Administration (`/api/admin/`): for staff users only (`is_staff`), checked against the database on every request; with `ADMIN_REQUIRE_MFA`, only with a token from a sign-in with a second factor' }
        ],
        components: {
          securitySchemes: {
            bearerAuth: {
              type: 'http',
              scheme: 'bearer',
              bearerFormat: 'JWT',
              description: 'An access token: `Authorization: Bearer <access>`. Refused as soon as its session is revoked.'
            },
            refreshCookie: {
              type: 'apiKey',
              in: 'cookie',
              name: fastify.config.web.cookies.refresh,
              description:
                'Cookie mode (`X-Auth-Mode: cookie`): the refresh token as an HttpOnly cookie scoped to `/api/auth/`, set by login, register, ' +
                '`/api/token/` and refresh. A request it authenticates must send `X-Auth-Mode: cookie` and an `Origin` (or `Referer`) of ' +
                '`PUBLIC_URL` or `CSRF_TRUSTED_ORIGINS`, else 403 (CSRF).'
            },
            ...(fastify.config.web.cookies.access
              ? {
                  accessCookie: {
                    type: 'apiKey',
                    in: 'cookie',
                    name: fastify.config.web.cookies.access,
                    description: 'ACCESS_COOKIE: the access token as a cookie (cookie mode), accepted by protected routes without an Authorization header; the same CSRF rules apply.'
                  }
                }
              : {})
          },
          // Response objects as OpenAPI 3.1 writes them (the library's types mix 3.0 and 3.1).
          responses: routelessResponses as Record<string, never>
        }
      },
      // Shared schemas keep their $id as their name under components/schemas.
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`)
      }
    })
    await fastify.register(swaggerUi, {
      routePrefix: '/docs',
      // No online validator badge: the page must not call out (offline machines, privacy).
      validatorUrl: false,
      uiConfig: { docExpansion: 'list', deepLinking: true, validatorUrl: null },
      staticCSP: true
    })
    fastify.get('/openapi.json', { schema: { hide: true } }, async () => fastify.swagger())
  },
  { name: 'swagger', dependencies: ['config'] }
)
