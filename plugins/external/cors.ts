// CORS for web apps on other origins: only the origins listed in CORS_ALLOWED_ORIGINS (none by
// default: same-origin deployments and mobile clients need no CORS headers), each echoed exactly
// with credentials allowed (the refresh cookie of cookie mode), never a wildcard. The preflight
// allows every method and header the API uses.
import cors from '@fastify/cors'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'

export default fp(
  async (fastify: FastifyInstance) => {
    const origins = fastify.config.web.corsAllowedOrigins
    if (origins.length === 0) return
    const allowed = new Set(origins)
    await fastify.register(cors, {
      // The request's Origin is echoed when it is on the list (with Vary: Origin); any other gets
      // no CORS header at all (false), not even Access-Control-Allow-Credentials.
      origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin) ? origin : false),
      credentials: true,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type', 'X-Auth-Mode'],
      exposedHeaders: ['Retry-After', 'WWW-Authenticate'],
      maxAge: 600
    })
  },
  { name: 'cors', dependencies: ['config'] }
)
