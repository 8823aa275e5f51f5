// /api/auth/email/change/: a new e-mail address, confirmed by a link mailed to it.
import type { RouteInstance } from '../typed.js'
import Type from 'typebox'
import { ApiError } from '../../../plugins/app/errors.js'
import { DetailSchema, EmailChangeBodySchema, EmailChangeConfirmBodySchema } from '../../schemas/routes.js'
import { authResponses, bad, bearer, describe, throttledResponse, unavailableResponse } from '../responses.js'
import { clientOf } from '../client.js'
import { trimmed } from '../trim.js'

const SENT = 'Verification e-mail sent.'

export default async function emailChangeRoutes (fastify: RouteInstance) {
  fastify.post('/email/change/', {
    schema: {
      tags: ['account'],
      summary: 'Change my e-mail address',
      operationId: 'requestEmailChange',
      description:
        'After checking the password (a wrong one counts as a failed login of the account) and, for a user with a second factor, a step-up, ' +
        'mails a link to the new address (EMAIL_CHANGE_URL, carrying `key`). Nothing changes until the link is followed. The key works once, for EMAIL_VERIFY_TIMEOUT, and dies when the address changes otherwise.',
      security: bearer,
      body: EmailChangeBodySchema,
      response: {
        200: describe(DetailSchema, 'The link is on its way to the new address.', { sent: { value: { detail: SENT } } }),
        400: bad('A wrong password; a new address that is invalid, already yours or another account\'s; a missing step-up code.', {
          new_email: ['A user with that email already exists.']
        }),
        ...authResponses,
        429: throttledResponse,
        503: unavailableResponse
      }
    },
    onRequest: fastify.authenticate,
    preValidation: trimmed(['new_email']),
    handler: async (request) => {
      await fastify.accounts.requestEmailChange(request.auth!, request.body, clientOf(request))
      return { detail: SENT }
    }
  })

  fastify.post('/email/change/confirm/', {
    schema: {
      tags: ['account'],
      summary: 'Confirm a new e-mail address',
      operationId: 'confirmEmailChange',
      description:
        "The `key` of the link mailed to the new address: the address becomes the account's, verified, and the old address gets a notice. " +
        'No token is needed (the link may be opened on another device).',
      body: EmailChangeConfirmBodySchema,
      response: {
        200: describe(Type.Ref('User'), 'The user with the new, verified address.'),
        400: bad('No key; or another account took the address since the link was sent.', { new_email: ['A user with that email already exists.'] }),
        404: describe(Type.Ref('DetailError'), 'An unknown, used or expired key.', { not_found: { value: { detail: 'Not found.' } } }),
        503: unavailableResponse
      }
    },
    handler: async (request) => {
      const user = await fastify.accounts.confirmEmailChange(request.body.key, clientOf(request))
      if (!user) throw new ApiError(404, { detail: 'Not found.' })
      return user
    }
  })
}
