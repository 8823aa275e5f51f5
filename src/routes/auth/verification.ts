// /api/auth/registration: following the link of the verification e-mail, and asking for it again.
import type { RouteInstance } from '../typed.js'
import Type from 'typebox'
import { ApiError } from '../../../plugins/app/errors.js'
import { DetailSchema, EmailBodySchema, VerifyEmailBodySchema } from '../../schemas/routes.js'
import { bad, describe, throttledResponse, unavailableResponse } from '../responses.js'
import { clientOf } from '../client.js'

const OK = { detail: 'ok' }

export default async function verificationRoutes (fastify: RouteInstance) {
  fastify.post('/registration/verify-email/', {
    schema: {
      tags: ['e-mail verification'],
      summary: 'Verify my e-mail address',
      operationId: 'verifyEmail',
      description: "The `key` of the verification e-mail's link (EMAIL_VERIFY_URL). The user's `email_verified` becomes true. A key works once, for EMAIL_VERIFY_TIMEOUT.",
      body: VerifyEmailBodySchema,
      response: {
        200: describe(DetailSchema, 'Verified.', { ok: { value: OK } }),
        400: bad('No key.', { key: ['This field is required.'] }),
        404: describe(Type.Ref('DetailError'), 'An unknown, used or expired key.', { not_found: { value: { detail: 'Not found.' } } }),
        503: unavailableResponse
      }
    },
    handler: async (request) => {
      if (!(await fastify.accounts.verifyEmail(request.body.key, clientOf(request)))) throw new ApiError(404, { detail: 'Not found.' })
      return OK
    }
  })

  fastify.post('/registration/resend-email/', {
    schema: {
      tags: ['e-mail verification'],
      summary: 'Send the verification e-mail again',
      operationId: 'resendVerificationEmail',
      description:
        'When an active account with this email is not verified yet, it receives a new link. The answer is the same whether or not there is one. ' +
        'Throttled per IP and per email address like password reset.',
      body: EmailBodySchema,
      response: {
        200: describe(DetailSchema, 'Always this answer (no enumeration).', { ok: { value: OK } }),
        400: bad('A missing or malformed email.', { email: ['Enter a valid email address.'] }),
        429: throttledResponse,
        503: unavailableResponse
      }
    },
    preHandler: fastify.throttle.verificationEmails,
    handler: async (request) => {
      await fastify.accounts.resendVerification(request.body.email)
      return OK
    }
  })
}
