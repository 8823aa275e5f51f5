// /api/auth/password/reset: a link by e-mail, then a new password from it. No authentication.
import type { RouteInstance } from '../typed.js'
import { DetailSchema, EmailBodySchema, PasswordResetConfirmBodySchema } from '../../schemas/routes.js'
import { bad, describe, throttledResponse, unavailableResponse } from '../responses.js'
import { clientOf } from '../client.js'

const SENT = 'Password reset e-mail has been sent.'

export default async function passwordResetRoutes (fastify: RouteInstance) {
  fastify.post('/password/reset/', {
    schema: {
      tags: ['password reset'],
      summary: 'E-mail me a password reset link',
      operationId: 'requestPasswordReset',
      description:
        'When an active account has this email, it receives a link (PASSWORD_RESET_URL with `uid` and `token`) that works once, for PASSWORD_RESET_TIMEOUT, ' +
        'and stops working when the password changes or the user logs in. The answer is the same, in about the same time, whether or not such an account exists. ' +
        'Throttled per IP and per email address, alike for every address.',
      body: EmailBodySchema,
      response: {
        200: describe(DetailSchema, 'Always this answer (no enumeration).', { ok: { value: { detail: SENT } } }),
        400: bad('A missing or malformed email.', { email: ['Enter a valid email address.'] }),
        429: throttledResponse,
        503: unavailableResponse
      }
    },
    preHandler: fastify.throttle.passwordResets,
    handler: async (request) => {
      await fastify.accounts.requestPasswordReset(request.body.email, clientOf(request))
      return { detail: SENT }
    }
  })

  fastify.post('/password/reset/confirm/', {
    schema: {
      tags: ['password reset'],
      summary: 'Set a new password from a reset link',
      operationId: 'confirmPasswordReset',
      description: "The link's `uid` and `token`, and the new password twice. Every session of the user is revoked.",
      body: PasswordResetConfirmBodySchema,
      response: {
        200: describe(DetailSchema, 'The password is set; every session is revoked.', { ok: { value: { detail: 'Password has been reset with the new password.' } } }),
        400: bad('An unknown `uid`, a used, expired or otherwise invalid `token`, new passwords that differ, or a refused new password.', {
          token: ['Invalid value']
        }),
        503: unavailableResponse
      }
    },
    handler: async (request) => {
      await fastify.accounts.confirmPasswordReset(request.body, clientOf(request))
      return { detail: 'Password has been reset with the new password.' }
    }
  })
}
