// /api/auth: register, login, logout, logout-all, me; and, in the files beside this one, the
// sessions list, the account (names, password change, deletion), password reset and e-mail
// verification. (The refresh aliases under /api/auth/ are declared with the refresh route, in
// routes/refresh.)
import type { FastifyError, FastifyRequest } from 'fastify'
import type { RouteInstance } from '../typed.js'
import Type from 'typebox'
import { ApiError, fieldErrors, TOKEN_INVALID } from '../../../plugins/app/errors.js'
import type { RegisterInput } from '../../../plugins/app/accounts/index.js'
import { normalizeUsername } from '../../../plugins/app/usernames.js'
import { validationToFieldErrors } from '../../error-handler.js'
import { CredentialsBodySchema, LOGIN_EXAMPLE, LoginResponseSchema, LogoutAllBodySchema, MessageSchema, RefreshBodySchema, RegisterBodySchema, REGISTERED_EXAMPLES, RegisteredSchema, refreshTokenOf } from '../../schemas/routes.js'
import { MFA_REQUIRED_EXAMPLE } from '../../schemas/mfa.js'
import accountRoutes from './account.js'
import passwordResetRoutes from './password-reset.js'
import sessionRoutes from './sessions.js'
import verificationRoutes from './verification.js'
import emailChangeRoutes from './email-change.js'
import mfaRoutes from './mfa.js'
import passkeyRoutes from './passkeys.js'
import { clientOf, credentialsOf } from '../client.js'
import { isObject, trimmed } from '../trim.js'
import { authResponses, bad, badOr, bearer, csrfResponse, describe, loginResponses, throttledResponse, unavailableResponse } from '../responses.js'
import { authModeHeaders, setCookieHeader } from '../web-clients.js'

const INVALID_CREDENTIALS = 'Invalid credentials'
const ALL = 'Successfully logged out of all sessions'
const ALL_OTHERS = 'Successfully logged out of all other sessions'

// Trimmed before validation (DRF's CharField); Django's UsernameField also validates the name
// (pattern, length) in its NFKC form.
const trimRegistration = trimmed(['username', 'email', 'first_name', 'last_name'], (body) => {
  if (typeof body.username === 'string') body.username = normalizeUsername(body.username)
})

export default async function authRoutes (fastify: RouteInstance) {
  await fastify.register(sessionRoutes)
  await fastify.register(accountRoutes)
  await fastify.register(passwordResetRoutes)
  await fastify.register(verificationRoutes)
  await fastify.register(emailChangeRoutes)
  await fastify.register(mfaRoutes)
  await fastify.register(passkeyRoutes)

  fastify.post('/register/', {
    schema: {
      tags: ['auth'],
      summary: 'Register a user',
      operationId: 'register',
      description:
        'Creates the user and starts a session. All problems with the input are reported at once. With EMAIL_VERIFICATION optional (the default) ' +
        'or mandatory, a verification e-mail is sent; with mandatory, no session starts (no `tokens`) until the link is followed.',
      body: RegisterBodySchema,
      headers: authModeHeaders,
      response: {
        201: describe(
          RegisteredSchema,
          'The new user and the first token pair of its session (with mandatory verification: no tokens yet; in cookie mode, no refresh token in the body).',
          REGISTERED_EXAMPLES,
          setCookieHeader
        ),
        400: bad('Invalid input, a taken username or email, or a rejected password; all problems at once.', {
          username: ['A user with that username already exists.'],
          email: ['A user with that email already exists.'],
          password: ["Password fields didn't match."]
        }),
        429: throttledResponse,
        503: unavailableResponse
      }
    },
    // Validation errors reach the handler, so schema problems and uniqueness/password problems
    // are reported together.
    attachValidation: true,
    preValidation: trimRegistration,
    onRequest: fastify.throttle.registrations,
    handler: async (request, reply) => {
      // With attachValidation the body may be anything: it is read as such.
      const body: unknown = request.body
      const fields = isObject(body) ? body : {}
      const errors = request.validationError
        ? validationToFieldErrors((request.validationError as FastifyError).validation ?? [], body)
        : {}
      if (errors.non_field_errors) throw new ApiError(400, errors)
      if (!errors.password && !errors.password2 && fields.password2 !== undefined && fields.password2 !== fields.password) {
        ;(errors.password ??= []).push("Password fields didn't match.")
      }
      const str = (v: unknown) => (typeof v === 'string' ? v : '')
      const input: RegisterInput = {
        username: str(fields.username),
        email: str(fields.email),
        password: str(fields.password),
        first_name: str(fields.first_name),
        last_name: str(fields.last_name)
      }
      // Every problem at once: the fields refused here, and what the registration rules say of the others.
      if (Object.keys(errors).length > 0) {
        throw fieldErrors({ ...errors, ...(await fastify.accounts.registrationErrors(input, Object.keys(errors))) })
      }
      const { user, pk, tokens } = await fastify.accounts.register(input, clientOf(request))
      // pk is for the envelope profile's answer only: the contract's schema leaves it out.
      return reply.code(201).send(tokens ? { ...user, pk, tokens: fastify.webClients.deliver(request, reply, tokens) } : { ...user, pk, detail: 'Verification e-mail sent.' })
    }
  })

  fastify.post('/login/', {
    schema: {
      tags: ['auth'],
      summary: 'Log in',
      operationId: 'login',
      description:
        "Starts a session. `username` may also be the account's email address. For a user with TOTP on, a right password starts none: the answer is " +
        '`mfa_required` with an ephemeral token for POST /api/auth/login/code/.',
      body: CredentialsBodySchema,
      headers: authModeHeaders,
      response: {
        200: describe(
          Type.Union([LoginResponseSchema, Type.Ref('MfaRequired')]),
          'The first token pair of a new session, and the user (in cookie mode, the refresh token as a cookie); or, for a user with TOTP on, `mfa_required`.',
          {
            session: { summary: 'Signed in', value: LOGIN_EXAMPLE },
            mfa: { summary: 'A second factor is due', value: MFA_REQUIRED_EXAMPLE }
          },
          setCookieHeader
        ),
        ...loginResponses(INVALID_CREDENTIALS)
      }
    },
    onRequest: fastify.throttle.loginAttempts,
    handler: async (request, reply) => {
      const session = await fastify.accounts.login(credentialsOf(request, request.body))
      if (!session) throw new ApiError(401, { detail: INVALID_CREDENTIALS })
      if ('mfa_required' in session) return session
      return { ...fastify.webClients.deliver(request, reply, session.tokens), user: session.user }
    }
  })

  fastify.post('/logout/', {
    schema: {
      tags: ['auth'],
      summary: 'Log out (revoke a session)',
      operationId: 'logout',
      description:
        'Revokes the session of the given refresh token: its access and refresh tokens stop working at once. In cookie mode, the refresh ' +
        'cookie names the session when the body does not (CSRF rules apply), and the cookie is cleared.',
      security: [{ bearerAuth: [], refreshCookie: [] }, ...bearer],
      body: RefreshBodySchema,
      headers: authModeHeaders,
      response: {
        200: describe(MessageSchema, 'The session is revoked.', { ok: { value: { message: 'Successfully logged out' } } }, setCookieHeader),
        400: badOr(Type.Ref('MessageError'), 'No refresh token, or an invalid, expired or blacklisted one; or a malformed body.', {
          required: { summary: 'No refresh token', value: { error: 'Refresh token required' } },
          blacklisted: { summary: 'Rotated or revoked', value: { error: 'Invalid refresh token: Token is blacklisted' } },
          invalid: { summary: 'Invalid or expired', value: { error: 'Invalid refresh token: Token is invalid or expired' } }
        }),
        ...authResponses,
        403: describe(Type.Union([Type.Ref('MessageError'), Type.Ref('DetailError')]), 'The refresh token belongs to another user; or the refresh cookie was sent without passing the CSRF check.', {
          foreign: { value: { error: 'Token does not belong to user' } },
          ...csrfResponse.content['application/json'].examples
        }),
        503: unavailableResponse
      }
    },
    // Checked before the body is parsed, as DRF authenticates before it reads request.data.
    onRequest: fastify.authenticate,
    // The body's problems answer in this endpoint's own shape ({"error": ...}), not as field errors.
    attachValidation: true,
    handler: async (request, reply) => {
      const { webClients } = fastify
      let token = refreshTokenOf(request.body)
      // Cookie mode: the session of the refresh cookie, when the body names none.
      const cookie = token === undefined ? webClients.refreshCookie(request) : undefined
      if (cookie !== undefined) {
        webClients.checkCsrf(request)
        token = cookie
      }
      if (token === undefined || token === null || token === '') throw new ApiError(400, { error: 'Refresh token required' })
      if (typeof token !== 'string') throw new ApiError(400, { error: `Invalid refresh token: ${TOKEN_INVALID}` })
      try {
        // No caller when the profile takes logout without a Bearer token (API_PROFILE camelcase, envelope).
        await fastify.accounts.logout(request.auth?.userId ?? null, token, clientOf(request))
      } catch (err) {
        // A cookie whose token is refused is of no use any more.
        if (cookie !== undefined && err instanceof ApiError && err.statusCode === 400) webClients.clear(reply)
        throw err
      }
      webClients.ended(request, reply)
      return { message: 'Successfully logged out' }
    }
  })

  fastify.post('/logout/all/', {
    schema: {
      tags: ['auth'],
      summary: 'Log out of every session',
      operationId: 'logoutAll',
      description: "Revokes every session of the user; with `{\"except_current\": true}`, every session but the caller's.",
      security: bearer,
      body: LogoutAllBodySchema,
      headers: authModeHeaders,
      response: {
        200: describe(
          MessageSchema,
          'The sessions are revoked (in cookie mode, without except_current, the refresh cookie is cleared).',
          {
            all: { summary: 'Every session', value: { message: ALL } },
            others: { summary: 'except_current: true', value: { message: ALL_OTHERS } }
          },
          setCookieHeader
        ),
        400: bad('`except_current` is not a boolean, or the body is malformed.', { except_current: ['Must be a valid boolean.'] }),
        ...authResponses,
        503: unavailableResponse
      }
    },
    onRequest: fastify.authenticate,
    // No body at all is the same as {}.
    preValidation: async (request: FastifyRequest) => {
      if (request.body === undefined || request.body === null) request.body = {}
    },
    handler: async (request, reply) => {
      const { except_current } = request.body
      await fastify.accounts.logoutAll(request.auth!, except_current === true, clientOf(request))
      // The caller's own session ends too (unless kept): its cookie goes with it.
      if (!except_current) fastify.webClients.ended(request, reply)
      return { message: except_current ? ALL_OTHERS : ALL }
    }
  })

  fastify.get('/me/', {
    schema: {
      tags: ['auth'],
      summary: 'The current user',
      operationId: 'me',
      security: bearer,
      response: { 200: describe(Type.Ref('User'), 'The user the access token belongs to.'), ...authResponses, 503: unavailableResponse }
    },
    onRequest: fastify.authenticate,
    handler: async (request) => fastify.accounts.me(request.auth!.userId)
  })
}
