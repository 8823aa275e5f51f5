// The caller's account: names (PATCH /me), deletion (DELETE /me) and password change.
import type { RouteInstance } from '../typed.js'
import Type from 'typebox'
import { DeleteAccountBodySchema, DetailSchema, PasswordChangeBodySchema, ProfileBodySchema } from '../../schemas/routes.js'
import { authResponses, bad, bearer, describe, throttledResponse, unavailableResponse } from '../responses.js'
import { clientOf } from '../client.js'
import { trimmed } from '../trim.js'
import { setCookieHeader } from '../web-clients.js'

const trimNames = trimmed(['first_name', 'last_name'])

export default async function accountRoutes (fastify: RouteInstance) {
  fastify.patch('/me/', {
    schema: {
      tags: ['account'],
      summary: 'Change my names',
      operationId: 'updateMe',
      description: '`first_name` and `last_name`, each optional; any other field is ignored (the username, email and password change elsewhere or not at all).',
      security: bearer,
      body: ProfileBodySchema,
      response: {
        200: describe(Type.Ref('User'), 'The user as it is now.'),
        400: bad('A name longer than 150 characters, not a string, or holding a NUL or a lone surrogate.', {
          first_name: ['Ensure this field has no more than 150 characters.']
        }),
        ...authResponses,
        503: unavailableResponse
      }
    },
    onRequest: fastify.authenticate,
    preValidation: trimNames,
    handler: async (request) => {
      const { first_name, last_name } = request.body
      return fastify.accounts.updateProfile(request.auth!.userId, { first_name, last_name })
    }
  })

  fastify.delete('/me/', {
    schema: {
      tags: ['account'],
      summary: 'Delete my account',
      operationId: 'deleteMe',
      description:
        'Deletes the user after checking the password. Every session is revoked at once, and the username and email can be registered again. ' +
        'A wrong password counts as a failed login of the account (the login limits apply).',
      security: bearer,
      body: DeleteAccountBodySchema,
      response: {
        204: { description: 'The account and every session are gone (a web client\'s cookies are cleared).', type: 'null', headers: setCookieHeader },
        400: bad('A wrong password, or none.', { password: ['Your password was entered incorrectly.'] }),
        ...authResponses,
        429: throttledResponse,
        503: unavailableResponse
      }
    },
    onRequest: fastify.authenticate,
    handler: async (request, reply) => {
      await fastify.accounts.deleteAccount(request.auth!, request.body.password, request.body.code, clientOf(request))
      fastify.webClients.ended(request, reply)
      return reply.code(204).send(null)
    }
  })

  fastify.post('/password/change/', {
    schema: {
      tags: ['account'],
      summary: 'Change my password',
      operationId: 'changePassword',
      description:
        "Sets a new password after checking the old one. Every other session of the user is revoked at once; the caller's keeps working. " +
        'A wrong old password counts as a failed login of the account (the login limits apply).',
      security: bearer,
      body: PasswordChangeBodySchema,
      response: {
        200: describe(DetailSchema, 'Saved; every other session is revoked.', { ok: { value: { detail: 'New password has been saved.' } } }),
        400: bad('A wrong old password, new passwords that differ, or a new password the validators refuse (under `new_password2`).', {
          old_password: ['Your old password was entered incorrectly. Please enter it again.']
        }),
        ...authResponses,
        429: throttledResponse,
        503: unavailableResponse
      }
    },
    onRequest: fastify.authenticate,
    handler: async (request) => {
      await fastify.accounts.changePassword(request.auth!, request.body, clientOf(request))
      return { detail: 'New password has been saved.' }
    }
  })
}
