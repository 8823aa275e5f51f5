// The OpenAPI 3.1 document, built by @fastify/swagger from the routes' TypeBox schemas, served
// at /openapi.json, with a browsable reference at /docs whose assets ship in the package (it
// works offline: no CDN, no online validator). openapi.yaml is written from the same document
// by scripts/openapi.ts.
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifySchema } from 'fastify'
import { commonResponses, routelessResponses } from '../../src/routes/responses.js'

export const API_DESCRIPTION = `JWT authentication: register, log in, rotate refresh tokens (with a grace interval and reuse
detection that revokes the whole session), verify, log out. Request and response conventions follow Django REST
framework + SimpleJWT 5.x (paths, field names, messages, status codes); where the contract is silent the service does
what SimpleJWT / DRF 3.14 do. Every path also answers without its trailing slash. Bodies are JSON only (415 otherwise),
at most 32 KiB (413). Unknown paths answer 404 and known paths with another method 405 (see components/responses).
CORS preflight requests (OPTIONS) are answered for the configured origins only and are not listed as operations.`

export default fp(
  async (fastify: FastifyInstance) => {
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
          description: API_DESCRIPTION
        },
        servers: [{ url: '/', description: 'This server' }],
        tags: [
          { name: 'auth', description: 'Accounts and sessions' },
          { name: 'tokens', description: 'SimpleJWT token endpoints and keys' },
          { name: 'operations', description: 'Health checks' }
        ],
        components: {
          securitySchemes: {
            bearerAuth: {
              type: 'http',
              scheme: 'bearer',
              bearerFormat: 'JWT',
              description: 'An access token: `Authorization: Bearer <access>`. Refused as soon as its session is revoked.'
            }
          },
          responses: routelessResponses
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
