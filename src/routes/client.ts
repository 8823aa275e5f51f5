// The client of a request as the account flows see it: its address (TRUST_PROXY decides whether
// X-Forwarded-For is believed) and its user agent, recorded with a new session, and the request
// id, which the audit log names.
import type { FastifyRequest } from 'fastify'
import type { Client, LoginInput } from '../../plugins/app/accounts/index.js'

export const clientOf = (request: FastifyRequest): Client => ({ ip: request.ip, userAgent: request.headers['user-agent'] ?? '', requestId: request.id })

/** A login's input from its credentials: DRF's CharField trims the name (never the password). */
export const credentialsOf = (request: FastifyRequest, { username, password }: { username: string; password: string }): LoginInput => ({
  login: username.trim(),
  password,
  ...clientOf(request)
})
