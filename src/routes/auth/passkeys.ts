// /api/auth/passkeys: register (options, then the attestation), list, delete; and the
// username-less sign-in (options, then the assertion).
import type { RouteInstance } from '../typed.js'
import Type from 'typebox'
import { ApiError } from '../../../plugins/app/errors.js'
import { EmptySchema, LoginResponseSchema } from '../../schemas/routes.js'
import { CreationOptionsSchema, PasskeyListSchema, PasskeyLoginBodySchema, PasskeyRegisterBodySchema, PasskeySchema, RequestOptionsSchema, StepUpBodySchema } from '../../schemas/mfa.js'
import { authResponses, bad, bearer, describe, throttledResponse, unavailableResponse } from '../responses.js'
import { clientOf } from '../client.js'
import { authModeHeaders, setCookieHeader } from '../web-clients.js'

const PASSKEY_ID = /^[A-Za-z0-9_-]{1,32}$/
const INVALID_CREDENTIALS = 'Invalid credentials'

export default async function passkeyRoutes (fastify: RouteInstance) {
  fastify.post('/passkeys/register/options/', {
    schema: {
      tags: ['passkeys'],
      summary: 'Begin adding a passkey',
      operationId: 'passkeyRegisterOptions',
      description:
        "Creation options: a discoverable credential with user verification, the user's passkeys excluded. The challenge is kept server-side, single use, 5 minutes. " +
        'For a user with a second factor, the step-up comes first: `{"code"}`, or a second factor given within REAUTH_MAX_AGE.',
      security: bearer,
      body: StepUpBodySchema,
      response: {
        200: describe(CreationOptionsSchema, 'For navigator.credentials.create().'),
        400: bad('A missing or wrong step-up code.', { code: ['This field is required.'] }),
        ...authResponses,
        429: throttledResponse,
        503: unavailableResponse
      }
    },
    onRequest: fastify.authenticate,
    handler: async (request) => fastify.accounts.passkeyRegistrationOptions(request.auth!, request.body?.code, clientOf(request)) as Promise<Record<string, unknown>>
  })

  fastify.post('/passkeys/register/', {
    schema: {
      tags: ['passkeys'],
      summary: 'Add a passkey',
      operationId: 'passkeyRegister',
      description: 'The attestation for the options of /api/auth/passkeys/register/options/ (whose step-up it inherits).',
      security: bearer,
      body: PasskeyRegisterBodySchema,
      response: {
        201: describe(PasskeySchema, 'Added.'),
        400: bad('The attestation does not verify (wrong challenge, origin or relying party, no user verification, a credential already registered).', {
          credential: ['The passkey could not be verified.']
        }),
        ...authResponses,
        503: unavailableResponse
      }
    },
    onRequest: fastify.authenticate,
    handler: async (request, reply) => {
      const { credential, name } = request.body
      return reply.code(201).send(await fastify.accounts.addPasskey(request.auth!, { credential, name }, clientOf(request)))
    }
  })

  fastify.get('/passkeys/', {
    schema: {
      tags: ['passkeys'],
      summary: 'My passkeys',
      operationId: 'passkeyList',
      security: bearer,
      response: { 200: describe(PasskeyListSchema, 'Oldest first.'), ...authResponses, 503: unavailableResponse }
    },
    onRequest: fastify.authenticate,
    handler: async (request) => fastify.accounts.passkeys(request.auth!)
  })

  fastify.delete('/passkeys/:id/', {
    schema: {
      tags: ['passkeys'],
      summary: 'Delete a passkey',
      operationId: 'passkeyDelete',
      description: 'For a user with a second factor, a step-up: `{"code"}` in the body, or a second factor given within REAUTH_MAX_AGE.',
      security: bearer,
      params: Type.Object({ id: Type.String() }),
      body: StepUpBodySchema,
      response: {
        204: { description: 'Deleted.', type: 'null' },
        400: bad('A missing or wrong step-up code.', { code: ['This field is required.'] }),
        ...authResponses,
        404: describe(Type.Ref('DetailError'), "Not one of the caller's passkeys.", { not_found: { value: { detail: 'Not found.' } } }),
        429: throttledResponse,
        503: unavailableResponse
      }
    },
    onRequest: fastify.authenticate,
    handler: async (request, reply) => {
      const { id } = request.params
      const code = request.body?.code
      if (!PASSKEY_ID.test(id) || !(await fastify.accounts.removePasskey(request.auth!, id, code, clientOf(request)))) {
        throw new ApiError(404, { detail: 'Not found.' })
      }
      return reply.code(204).send(null)
    }
  })

  fastify.post('/passkeys/login/options/', {
    schema: {
      tags: ['passkeys'],
      summary: 'Begin signing in with a passkey',
      operationId: 'passkeyLoginOptions',
      description: 'Request options for any passkey (username-less). Also the challenge of a passkey given as the second step after a password.',
      body: Type.Union([EmptySchema, Type.Null()], { description: 'Empty: `{}` or no body.', examples: [{}] }),
      response: {
        200: describe(RequestOptionsSchema, 'For navigator.credentials.get().'),
        400: bad('A body that is not empty or malformed JSON.', { non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] }),
        429: throttledResponse,
        503: unavailableResponse
      }
    },
    onRequest: fastify.throttle.loginAttempts,
    handler: async () => fastify.accounts.passkeyLoginOptions() as Promise<Record<string, unknown>>
  })

  fastify.post('/passkeys/login/', {
    schema: {
      tags: ['passkeys'],
      summary: 'Sign in with a passkey',
      operationId: 'passkeyLogin',
      description: "The assertion for the last options: the login's answer, with `amr: [\"hwk\", \"mfa\"]` in the tokens. A signature counter that goes backwards (a cloned authenticator) is refused and logged.",
      body: PasskeyLoginBodySchema,
      headers: authModeHeaders,
      response: {
        200: describe(LoginResponseSchema, "The login's answer (in cookie mode, the refresh token as a cookie).", undefined, setCookieHeader),
        400: bad('No credential, or a malformed body.', { credential: ['This field is required.'] }),
        401: describe(Type.Ref('DetailError'), 'An unknown credential, a failed assertion or a used challenge.', { invalid: { value: { detail: INVALID_CREDENTIALS } } }),
        429: throttledResponse,
        503: unavailableResponse
      }
    },
    onRequest: fastify.throttle.loginAttempts,
    handler: async (request, reply) => {
      const session = await fastify.accounts.passkeyLogin(request.body.credential, clientOf(request))
      if (!session) throw new ApiError(401, { detail: INVALID_CREDENTIALS })
      return { ...fastify.webClients.deliver(request, reply, session.tokens), user: session.user }
    }
  })
}
