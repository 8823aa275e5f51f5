// CORS for browser clients on other origins, only for the origins listed in CORS_ORIGINS
// (none by default: same-origin deployments and mobile clients need no CORS headers).
import cors from '@fastify/cors'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'

export default fp(
  async (fastify: FastifyInstance) => {
    const origins = fastify.config.corsOrigins
    if (origins.length === 0) return
    await fastify.register(cors, {
      origin: origins.includes('*') ? '*' : origins,
      methods: ['GET', 'POST'],
      allowedHeaders: ['Content-Type', 'Authorization'],
      exposedHeaders: ['Retry-After', 'WWW-Authenticate'],
      maxAge: 600
    })
  },
  { name: 'cors', dependencies: ['config'] }
)
