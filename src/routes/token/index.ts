// SimpleJWT's endpoints: obtain a pair, verify. (Refresh, /api/token/refresh/, is in routes/refresh.)
import type { RouteInstance } from '../typed.js'
import Type from 'typebox'
import { ApiError, tokenNotValid } from '../../../plugins/app/errors.js'
import { CredentialsBodySchema, EmptySchema, VerifyBodySchema } from '../../schemas/routes.js'
import { MFA_REQUIRED_EXAMPLE } from '../../schemas/mfa.js'
import { ACCESS_EXAMPLE, REFRESH_EXAMPLE } from '../../schemas/auth.js'
import { credentialsOf } from '../client.js'
import { bad, describe, loginResponses, tokenErrorResponse, unavailableResponse } from '../responses.js'
import { authModeHeaders, setCookieHeader } from '../web-clients.js'

const NO_ACTIVE_ACCOUNT = 'No active account found with the given credentials'

export default async function tokenRoutes (fastify: RouteInstance) {
  fastify.post('/', {
    prefixTrailingSlash: 'slash',
    schema: {
      tags: ['tokens'],
      summary: 'Obtain a token pair',
      operationId: 'obtainTokenPair',
      description:
        "SimpleJWT's obtain-pair: starts a session for the credentials. `username` may also be the account's email. For a user with TOTP on, " +
        'a right password starts none: the answer is `mfa_required` with an ephemeral token for POST /api/auth/login/code/.',
      body: CredentialsBodySchema,
      headers: authModeHeaders,
      response: {
        200: describe(
          Type.Union([Type.Ref('TokenPair'), Type.Ref('MfaRequired')]),
          'The first token pair of a new session (in cookie mode, the refresh token as a cookie); or, for a user with TOTP on, `mfa_required`.',
          {
            pair: { summary: 'Signed in', value: { access: ACCESS_EXAMPLE, refresh: REFRESH_EXAMPLE } },
            mfa: { summary: 'A second factor is due', value: MFA_REQUIRED_EXAMPLE }
          },
          setCookieHeader
        ),
        ...loginResponses(NO_ACTIVE_ACCOUNT)
      }
    },
    onRequest: fastify.throttle.loginAttempts,
    handler: async (request, reply) => {
      const session = await fastify.accounts.login(credentialsOf(request, request.body))
      if (!session) throw new ApiError(401, { detail: NO_ACTIVE_ACCOUNT })
      if ('mfa_required' in session) return session
      return fastify.webClients.deliver(request, reply, session.tokens)
    }
  })

  fastify.post('/verify/', {
    schema: {
      tags: ['tokens'],
      summary: 'Verify a token',
      operationId: 'verifyToken',
      description: "200 when the token's signature, expiry and type are valid and its session is alive (for a refresh token: it is the session's current one).",
      body: VerifyBodySchema,
      response: {
        200: describe(EmptySchema, 'The token is valid.'),
        400: bad('No token in the body, or a malformed body.', { token: ['This field is required.'] }),
        401: tokenErrorResponse('The token is invalid or expired, or its session is revoked.'),
        503: unavailableResponse
      }
    },
    handler: async (request) => {
      if (!(await fastify.accounts.verify(request.body.token))) throw tokenNotValid()
      return {}
    }
  })
}
