// /api/auth/sessions: the signed-in devices of the caller, and signing one out.
import type { RouteInstance } from '../typed.js'
import Type from 'typebox'
import { ApiError } from '../../../plugins/app/errors.js'
import { SessionListSchema } from '../../schemas/routes.js'
import { SESSION_EXAMPLE } from '../../schemas/auth.js'
import { authResponses, bearer, describe, unavailableResponse } from '../responses.js'
import { clientOf } from '../client.js'

/** The ids the service makes (base64url); a little room for other lengths. */
const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/
const notFound = () => new ApiError(404, { detail: 'Not found.' })

export default async function sessionRoutes (fastify: RouteInstance) {
  fastify.get('/sessions/', {
    schema: {
      tags: ['sessions'],
      summary: 'List my sessions',
      operationId: 'listSessions',
      description:
        'The live sessions of the user (signed-in devices), newest first: when each started and was last used (login or refresh), ' +
        "when its refresh token expires, and the IP and user agent of its login. `current` marks the caller's own.",
      security: bearer,
      response: {
        200: describe(SessionListSchema, 'The live sessions, newest first.', {
          example: { value: [SESSION_EXAMPLE, { ...SESSION_EXAMPLE, id: 'c2Vjb25kLXNlc3Npb24taWQ', ip: '198.51.100.4', user_agent: 'Mozilla/5.0 (X11; Linux x86_64)', current: false }] }
        }),
        ...authResponses,
        503: unavailableResponse
      }
    },
    onRequest: fastify.authenticate,
    handler: async (request) => fastify.accounts.sessions(request.auth!)
  })

  fastify.delete('/sessions/:id/', {
    schema: {
      tags: ['sessions'],
      summary: 'Revoke one of my sessions',
      operationId: 'revokeSession',
      description: "Signs that device out: the session's access and refresh tokens stop working at once. The caller's own session may be revoked too.",
      security: bearer,
      params: Type.Object({ id: Type.String({ description: 'The session id (`id` in the list, the `sid` claim).' }) }),
      response: {
        204: { description: 'Revoked.', type: 'null' },
        ...authResponses,
        404: describe(Type.Ref('DetailError'), "Not a live session of the caller's: unknown, expired, already revoked or another user's (never 403).", {
          not_found: { value: { detail: 'Not found.' } }
        }),
        503: unavailableResponse
      }
    },
    onRequest: fastify.authenticate,
    handler: async (request, reply) => {
      const { id } = request.params
      // Anything but a session id is unknown as it is: it never reaches the store.
      if (!SESSION_ID.test(id)) throw notFound()
      if (!(await fastify.accounts.revokeSession(request.auth!, id, clientOf(request)))) throw notFound()
      return reply.code(204).send(null)
    }
  })
}
