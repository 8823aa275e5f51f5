// The guard of protected routes: `authenticate` accepts a request only with a valid access token
// of a live session (revocation is immediate: the token store's liveness check, answered from the
// liveness cache while the store's invalidation channel is confirmed), and puts
// who is calling on `request.auth`. The token comes from `Authorization: Bearer`, or (with
// ACCESS_COOKIE, and no Authorization header) from the access cookie of cookie mode.
import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { accessTokenNotValid, notAuthenticated } from './errors.js'
import { signInOf, type SignIn } from './tokens.js'

export interface Caller {
  userId: string
  sid: string
  /** How the session's user signed in (the access token's amr and auth_time): step-up reads it. */
  signIn: SignIn
}

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hook of protected routes: a valid access token of a live session, or 401. */
    authenticate: (request: FastifyRequest) => Promise<void>
  }
  interface FastifyRequest {
    auth: Caller | null
  }
}

/** The token of an `Authorization: Bearer <token>` header; null for no header, another scheme or an empty token. */
function bearerToken (header: string | undefined): string | null {
  if (!header) return null
  const space = header.indexOf(' ')
  const scheme = space === -1 ? header : header.slice(0, space)
  // Another scheme is not ours to judge (DRF: the authenticator steps aside).
  if (scheme.toLowerCase() !== 'bearer') return null
  const token = space === -1 ? '' : header.slice(space + 1).trim()
  return token === '' ? null : token
}

export default fp(
  async (fastify) => {
    const { tokens, tokenStore, webClients } = fastify
    const accessCookie = fastify.config.web.cookies.access !== null
    fastify.decorateRequest('auth', null)
    fastify.decorate('authenticate', async function authenticate (request: FastifyRequest) {
      let token = bearerToken(request.headers.authorization)
      // With ACCESS_COOKIE, a request without an Authorization header may bring the access token
      // as that cookie: a cookie-authenticated request, which must pass the CSRF check.
      if (token === null && accessCookie && request.headers.authorization === undefined) {
        const cookie = webClients.accessCookie(request)
        if (cookie !== undefined) {
          webClients.checkCsrf(request)
          token = cookie
        }
      }
      if (token === null) throw notAuthenticated()
      const claims = tokens.verify(token)
      if (!claims || claims.token_type !== 'access') throw accessTokenNotValid()
      if (!(await tokenStore.isSessionActive({ userId: claims.user_id, sid: claims.sid }))) throw accessTokenNotValid()
      request.auth = { userId: claims.user_id, sid: claims.sid, signIn: signInOf(claims) }
    })
  },
  { name: 'auth', dependencies: ['tokens', 'token-store', 'web-clients'] }
)
