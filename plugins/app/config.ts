// Decorates the app with the validated configuration. The app receives it as an option so
// tests can build apps with their own settings; server.ts loads it from the environment.
import fp from 'fastify-plugin'
import type { Config } from '../../src/config.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

export default fp<{ config: Config }>(
  async (fastify, opts) => {
    fastify.decorate('config', opts.config)
  },
  { name: 'config' }
)
