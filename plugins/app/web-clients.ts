// Web clients: cookie mode and its CSRF defence (API.md, "Web clients"). A request that sends
// `X-Auth-Mode: cookie` gets its refresh token as an HttpOnly cookie scoped to /api/auth/ instead
// of in the body (and, with ACCESS_COOKIE, its access token as a cookie too); requests without
// the header are answered as before. A request that a cookie authenticates must prove it comes
// from a page of a trusted origin: the custom header (a cross-site form cannot send it, and a
// cross-site fetch with it needs a CORS preflight this service only grants to listed origins),
// and an Origin (or, without one, a Referer) that is PUBLIC_URL's or one of CSRF_TRUSTED_ORIGINS.
// Refusals carry Django's wording, and come before anything is read or changed.
import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ApiError } from './errors.js'

/** Where the refresh cookie is sent: the refresh and logout routes, nothing else. */
export const REFRESH_COOKIE_PATH = '/api/auth/'

export interface IssuedTokens {
  access: string
  /** None when a refresh kept its token (ROTATE_REFRESH_TOKENS=false): the cookie stays as it is. */
  refresh?: string
}

export interface WebClients {
  /** The request asks for cookie mode (`X-Auth-Mode: cookie`). */
  cookieMode(request: FastifyRequest): boolean
  /** The refresh cookie's token, if the request carries one. */
  refreshCookie(request: FastifyRequest): string | undefined
  /** The access cookie's token (ACCESS_COOKIE set), if the request carries one. */
  accessCookie(request: FastifyRequest): string | undefined
  /** A 403 in Django's words unless a request authenticated by a cookie comes from a trusted page. */
  checkCsrf(request: FastifyRequest): void
  /** The tokens as the answer's body carries them: in cookie mode, the refresh token moves to its cookie (and the access token is also set as one, with ACCESS_COOKIE). */
  deliver(request: FastifyRequest, reply: FastifyReply, tokens: IssuedTokens): { access: string; refresh?: string }
  /** Clears the refresh cookie (and the access cookie, with ACCESS_COOKIE). */
  clear(reply: FastifyReply): void
  /** The caller's session has ended (logout, deletion): its cookies are cleared if it is a web client. */
  ended(request: FastifyRequest, reply: FastifyReply): void
}

declare module 'fastify' {
  interface FastifyInstance {
    webClients: WebClients
  }
}

const csrfFailed = (reason: string) => new ApiError(403, { detail: `CSRF Failed: ${reason}` })

export default fp(
  async (fastify) => {
    const { web, refreshTokenTtl, accessTokenTtl } = fastify.config
    const { cookies } = web
    const trusted = new Set([web.publicOrigin, ...web.csrfTrustedOrigins])
    const base = { httpOnly: true, secure: cookies.secure, ...(cookies.domain ? { domain: cookies.domain } : {}) }
    const refreshCookie = { ...base, sameSite: cookies.sameSite, path: REFRESH_COOKIE_PATH }
    // The access cookie goes with every request of the site (Path=/), top-level navigations
    // included (Lax), as a server-rendered app needs.
    const accessCookie = { ...base, sameSite: 'lax' as const, path: '/' }

    const webClients: WebClients = {
      cookieMode: (request) => request.headers['x-auth-mode'] === 'cookie',
      refreshCookie: (request) => fastify.cookieOf(request, cookies.refresh) || undefined,
      accessCookie: (request) => (cookies.access ? fastify.cookieOf(request, cookies.access) || undefined : undefined),
      checkCsrf (request) {
        if (!webClients.cookieMode(request)) throw csrfFailed('CSRF token missing.')
        const origin = request.headers.origin
        if (origin !== undefined) {
          if (!trusted.has(origin)) throw csrfFailed(`Origin checking failed - ${origin} does not match any trusted origins.`)
          return
        }
        const referer = request.headers.referer
        if (!referer) throw csrfFailed('Referer checking failed - no Referer.')
        if (!URL.canParse(referer)) throw csrfFailed('Referer checking failed - Referer is malformed.')
        if (!trusted.has(new URL(referer).origin)) throw csrfFailed(`Referer checking failed - ${referer} does not match any trusted origins.`)
      },
      deliver (request, reply, tokens) {
        if (!webClients.cookieMode(request)) return tokens
        if (tokens.refresh !== undefined) reply.setCookie(cookies.refresh, tokens.refresh, { ...refreshCookie, maxAge: refreshTokenTtl })
        if (cookies.access) reply.setCookie(cookies.access, tokens.access, { ...accessCookie, maxAge: accessTokenTtl })
        return { access: tokens.access }
      },
      clear (reply) {
        reply.clearCookie(cookies.refresh, refreshCookie)
        if (cookies.access) reply.clearCookie(cookies.access, accessCookie)
      },
      ended (request, reply) {
        if (webClients.cookieMode(request) || webClients.refreshCookie(request) !== undefined) webClients.clear(reply)
      }
    }
    fastify.decorate('webClients', webClients)
  },
  { name: 'web-clients', dependencies: ['config', 'cookie'] }
)
