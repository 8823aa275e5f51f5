// /api/auth/mfa: TOTP enrolment (setup, confirm, disable), recovery codes and the status; and
// /api/auth/login/code/, the second step of a sign-in with a second factor.
import type { RouteInstance } from '../typed.js'
import Type from 'typebox'
import { ApiError } from '../../../plugins/app/errors.js'
import { DetailSchema, LoginResponseSchema } from '../../schemas/routes.js'
import { CodeBodySchema, MfaStatusSchema, PasswordAndCodeBodySchema, RecoveryCodesSchema, SecondStepBodySchema, TotpSetupSchema } from '../../schemas/mfa.js'
import { authResponses, bad, bearer, describe, throttledResponse, unavailableResponse } from '../responses.js'
import { clientOf } from '../client.js'
import { authModeHeaders, setCookieHeader } from '../web-clients.js'

const INVALID_CODE = { code: ['Invalid code.'] }
const STEP_UP = { code: ['This field is required.'] }

export default async function mfaRoutes (fastify: RouteInstance) {
  fastify.get('/mfa/', {
    schema: {
      tags: ['two-factor'],
      summary: 'My second factors',
      operationId: 'mfaStatus',
      security: bearer,
      response: { 200: describe(MfaStatusSchema, 'What the user has on.'), ...authResponses, 503: unavailableResponse }
    },
    onRequest: fastify.authenticate,
    handler: async (request) => fastify.accounts.mfaStatus(request.auth!)
  })

  fastify.post('/mfa/totp/setup/', {
    schema: {
      tags: ['two-factor'],
      summary: 'Begin TOTP setup',
      operationId: 'totpSetup',
      description: 'A new secret for an authenticator app, as text, otpauth:// URL and QR code (SVG). Not active until confirmed; a new setup replaces an unconfirmed one.',
      security: bearer,
      response: {
        200: describe(TotpSetupSchema, 'The pending secret.'),
        400: describe(Type.Ref('DetailError'), 'TOTP is already on.', { enabled: { value: { detail: 'Two-factor authentication is already enabled.' } } }),
        ...authResponses,
        503: unavailableResponse
      }
    },
    onRequest: fastify.authenticate,
    handler: async (request) => fastify.accounts.setupTotp(request.auth!)
  })

  fastify.post('/mfa/totp/confirm/', {
    schema: {
      tags: ['two-factor'],
      summary: 'Confirm TOTP setup',
      operationId: 'totpConfirm',
      description: 'Turns TOTP on with a code of the pending secret, and answers ten recovery codes, shown this once (stored only as hashes).',
      security: bearer,
      body: CodeBodySchema,
      response: {
        200: describe(RecoveryCodesSchema, 'TOTP is on; the recovery codes.'),
        400: bad('A wrong code, or no pending setup.', INVALID_CODE),
        ...authResponses,
        503: unavailableResponse
      }
    },
    onRequest: fastify.authenticate,
    handler: async (request) => ({ recovery_codes: await fastify.accounts.confirmTotp(request.auth!, request.body.code, clientOf(request)) })
  })

  fastify.post('/mfa/totp/disable/', {
    schema: {
      tags: ['two-factor'],
      summary: 'Turn TOTP off',
      operationId: 'totpDisable',
      description: 'After the password and a step-up (a code, or a second factor given within REAUTH_MAX_AGE): TOTP and the recovery codes are gone, and every other session of the user is revoked.',
      security: bearer,
      body: PasswordAndCodeBodySchema,
      response: {
        200: describe(DetailSchema, 'Off.', { ok: { value: { detail: 'Two-factor authentication disabled.' } } }),
        400: bad('A wrong password, a missing or wrong code, or TOTP not on.', { password: ['Your password was entered incorrectly.'], ...STEP_UP }),
        ...authResponses,
        429: throttledResponse,
        503: unavailableResponse
      }
    },
    onRequest: fastify.authenticate,
    handler: async (request) => {
      await fastify.accounts.disableTotp(request.auth!, request.body, clientOf(request))
      return { detail: 'Two-factor authentication disabled.' }
    }
  })

  fastify.post('/mfa/recovery-codes/', {
    schema: {
      tags: ['two-factor'],
      summary: 'New recovery codes',
      operationId: 'recoveryCodes',
      description: 'After the password and a step-up: ten new recovery codes; the old set stops working.',
      security: bearer,
      body: PasswordAndCodeBodySchema,
      response: {
        200: describe(RecoveryCodesSchema, 'The new set, shown this once.'),
        400: bad('A wrong password, a missing or wrong code, or TOTP not on.', { password: ['Your password was entered incorrectly.'], ...STEP_UP }),
        ...authResponses,
        429: throttledResponse,
        503: unavailableResponse
      }
    },
    onRequest: fastify.authenticate,
    handler: async (request) => ({ recovery_codes: await fastify.accounts.newRecoveryCodes(request.auth!, request.body, clientOf(request)) })
  })

  fastify.post('/login/code/', {
    schema: {
      tags: ['auth'],
      summary: 'Sign in: the second factor',
      operationId: 'loginCode',
      description:
        'The second step of a sign-in that answered `mfa_required`: the ephemeral token with a TOTP code, a recovery code (each works once) or a passkey assertion. ' +
        "A wrong one counts as a failed login of the account (throttling) and spends one of the token's 5 tries.",
      body: SecondStepBodySchema,
      headers: authModeHeaders,
      response: {
        200: describe(LoginResponseSchema, "The login's answer: the first token pair of a new session, and the user (in cookie mode, the refresh token as a cookie).", undefined, setCookieHeader),
        400: bad('A wrong code or passkey; or an ephemeral token that is unknown, expired, used or out of tries.', {
          ephemeral_token: ['Invalid or expired token.']
        }),
        429: throttledResponse,
        503: unavailableResponse
      }
    },
    onRequest: fastify.throttle.loginAttempts,
    handler: async (request, reply) => {
      const { code, credential } = request.body
      if (code === undefined && credential === undefined) throw new ApiError(400, { code: ['This field is required.'] })
      const session = await fastify.accounts.completeLogin({ ephemeral_token: request.body.ephemeral_token, code, credential, ...clientOf(request) })
      return { ...fastify.webClients.deliver(request, reply, session.tokens), user: session.user }
    }
  })
}
