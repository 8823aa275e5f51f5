// Cookies (@fastify/cookie) for web clients' cookie mode. Not parsed on every request (hook:
// false): the hot paths never read a cookie; the routes that may (refresh, logout, a protected
// route with the access cookie and no Authorization header) parse the header when they need it.
import cookie from '@fastify/cookie'
import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'

declare module 'fastify' {
  interface FastifyInstance {
    /** The request's cookie of that name (parsed once per request), or undefined. */
    cookieOf(request: FastifyRequest, name: string): string | undefined
  }
}

export default fp(
  async (fastify) => {
    await fastify.register(cookie, { hook: false })
    fastify.decorate('cookieOf', function cookieOf (request: FastifyRequest, name: string) {
      request.cookies ??= request.headers.cookie ? fastify.parseCookie(request.headers.cookie) : {}
      return request.cookies[name]
    })
  },
  { name: 'cookie' }
)
