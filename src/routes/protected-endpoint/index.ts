// A small protected route for clients to check their wiring.
import type { RouteInstance } from '../typed.js'
import { MessageSchema } from '../../schemas/routes.js'
import { authResponses, bearer, describe, unavailableResponse } from '../responses.js'

export default async function protectedRoutes (fastify: RouteInstance) {
  fastify.get('/', {
    prefixTrailingSlash: 'slash',
    schema: {
      tags: ['auth'],
      summary: 'Check an access token',
      operationId: 'protectedEndpoint',
      security: bearer,
      response: {
        200: describe(MessageSchema, 'The access token is valid and its session alive.', {
          ok: { value: { message: 'You have accessed a protected route!' } }
        }),
        ...authResponses,
        503: unavailableResponse
      }
    },
    onRequest: fastify.authenticate,
    handler: async () => ({ message: 'You have accessed a protected route!' })
  })
}
