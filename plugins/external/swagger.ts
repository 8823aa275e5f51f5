// The OpenAPI 3.1 document, built by @fastify/swagger from the routes' TypeBox schemas, served
// at /openapi.json, with a browsable reference at /docs whose assets ship in the package.
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'

export const API_DESCRIPTION = `JWT authentication: register, log in, rotate refresh tokens (with a grace interval and reuse
detection that revokes the whole session), verify, log out. Request and response conventions follow Django REST
framework + SimpleJWT (paths, field names, messages, status codes). Every path also answers without its trailing slash.`

export default fp(
  async (fastify: FastifyInstance) => {
    await fastify.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: 'Auth service', version: '1.0.0', description: API_DESCRIPTION },
        tags: [
          { name: 'auth', description: 'Accounts and sessions' },
          { name: 'tokens', description: 'SimpleJWT token endpoints and keys' },
          { name: 'operations', description: 'Health checks' }
        ],
        components: {
          securitySchemes: {
            bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token: `Authorization: Bearer <access>`.' }
          }
        }
      },
      // Shared schemas keep their $id as their name under components/schemas.
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`)
      }
    })
    await fastify.register(swaggerUi, {
      routePrefix: '/docs',
      uiConfig: { docExpansion: 'list', deepLinking: true },
      staticCSP: true
    })
    fastify.get('/openapi.json', { schema: { hide: true } }, async () => fastify.swagger())
  },
  { name: 'swagger', dependencies: ['config'] }
)
