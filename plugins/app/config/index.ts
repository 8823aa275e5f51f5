// Decorates the app with the validated configuration. The app receives it as an option so
// tests can build apps with their own settings; server.ts loads it from the environment with
// loadConfig (load.ts), the only code that reads process.env (after loadEnvFile, env-file.ts, has
// added what ./.env sets and the environment does not).
import fp from 'fastify-plugin'
import type { Config } from './types.js'

export { ConfigError } from './config-error.js'
export { loadEnvFile } from './env-file.js'
export { loadConfig } from './load.js'
export type { ApiProfile, Config, JwtAlgorithm } from './types.js'

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
