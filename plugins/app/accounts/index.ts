// The account flows behind the routes, the one door (`fastify.accounts`) through which a route
// reaches a flow: each route maps HTTP to one call here and back. The flows live beside this
// file, by kind: sessions, passwords, registration (and e-mail verification), the profile.
import fp from 'fastify-plugin'
import { createContext } from './context.js'
import { emailFlows } from './email-flows.js'
import { mfaFlows } from './mfa-flows.js'
import { passwordFlows } from './password-flows.js'
import { profileFlows } from './profile-flows.js'
import { registrationFlows } from './registration-flows.js'
import { sessionFlows } from './session-flows.js'
import type { Accounts } from './types.js'

export * from './types.js'

declare module 'fastify' {
  interface FastifyInstance {
    accounts: Accounts
  }
}

export default fp(
  async (fastify) => {
    const ctx = createContext(fastify)
    const accounts: Accounts = { ...registrationFlows(ctx), ...sessionFlows(ctx), ...passwordFlows(ctx), ...profileFlows(ctx), ...mfaFlows(ctx), ...emailFlows(ctx) }
    fastify.decorate('accounts', accounts)
  },
  { name: 'accounts', dependencies: ['config', 'users', 'passwords', 'token-store', 'tokens', 'throttle', 'mail', 'audit', 'mfa', 'passkeys', 'notify'] }
)
