// API_PROFILE at the HTTP edge: the profile in force rewrites, as each route is added, what the
// route takes and answers (field aliases, the success answer's shape and document, no Bearer
// token where the refresh token names the session), and the error handler puts every error body
// in the profile's envelope. Under `simplejwt` (the default) nothing is installed.
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions, onRequestHookHandler, preValidationHookHandler } from 'fastify'
import type { ApiProfile } from '../../../plugins/app/config/index.js'
import type { ErrorBody } from '../../../plugins/app/errors.js'
import type { ResponseEntry } from '../responses.js'
import Type from 'typebox'
import { MFA_REQUIRED_EXAMPLE } from '../../schemas/mfa.js'
import { isObject } from '../trim.js'
import { camelcase } from './camelcase.js'
import { envelope } from './envelope.js'
import type { Dialect, RouteDialect } from './types.js'

const DIALECTS: Record<Exclude<ApiProfile, 'simplejwt'>, Dialect> = { camelcase, envelope }

/** The profile's dialect; null for `simplejwt`, the contract itself. */
export const dialectOf = (profile: ApiProfile): Dialect | null => (profile === 'simplejwt' ? null : DIALECTS[profile])

const isMfaRequired = (payload: object) => (payload as { mfa_required?: unknown }).mfa_required === true

/** An error answer in the dialect: the route's own message for it, or the envelope of the contract's body. */
export function translateError (dialect: Dialect, operationId: string | undefined, status: number, body: ErrorBody): ErrorBody {
  const own = operationId === undefined ? undefined : dialect.routes[operationId]?.error?.(status, body)
  return own === undefined ? dialect.envelope(body) : { error: own }
}

/** A route's documented responses in the dialect: its success answer's shape, and every error in the envelope (examples too). */
export function documentResponses (dialect: Dialect, operationId: string | undefined, responses: Record<string, unknown>): Record<string, unknown> {
  const route = operationId === undefined ? undefined : dialect.routes[operationId]
  const out: Record<string, unknown> = {}
  for (const [status, entry] of Object.entries(responses)) {
    const code = Number(status)
    const e = entry as ResponseEntry
    if (route?.answer && code === route.answer.status) {
      const { schema, description, example } = route.answer
      // A route that may answer the first step of a sign-in with a second factor keeps that answer.
      const mfa = JSON.stringify(e.content?.['application/json']?.schema ?? {}).includes('MfaRequired')
      out[status] = {
        description: mfa ? `${description} Or, for a user with TOTP on, \`mfa_required\` (as in the contract).` : description,
        ...(e.headers ? { headers: e.headers } : {}),
        content: {
          'application/json': mfa
            ? { schema: Type.Union([schema, Type.Ref('MfaRequired')]), examples: { example: { value: example }, mfa: { value: MFA_REQUIRED_EXAMPLE } } }
            : { schema, examples: { example: { value: example } } }
        }
      }
    } else if (code >= 400 && e.content) {
      const examples = e.content['application/json'].examples ?? {}
      const translated = Object.fromEntries(
        Object.entries(examples).map(([name, ex]) => [name, { ...ex, value: translateError(dialect, operationId, code, ex.value as ErrorBody) }])
      )
      out[status] = {
        ...e,
        content: { 'application/json': { schema: dialect.errorSchema, ...(Object.keys(translated).length > 0 ? { examples: translated } : {}) } }
      }
    } else {
      out[status] = entry
    }
  }
  return out
}

/** components/responses (404, 405) in the dialect: the envelope's schema and example. */
export function documentRouteless (dialect: Dialect, responses: Record<string, { content: { 'application/json': { example: unknown } } }>): Record<string, object> {
  return Object.fromEntries(
    Object.entries(responses).map(([name, r]) => [
      name,
      { ...r, content: { 'application/json': { schema: dialect.errorSchema, example: dialect.envelope(r.content['application/json'].example as ErrorBody) } } }
    ])
  )
}

const asArray = <T>(hooks: T | T[] | undefined): T[] => (hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks])

/** A preValidation hook that copies aliased fields to the contract's names (when those are absent). */
function aliasing (aliases: Record<string, string>): preValidationHookHandler {
  return (request, _reply, done) => {
    const body: unknown = request.body
    if (isObject(body)) {
      for (const [alias, field] of Object.entries(aliases)) {
        if (body[field] === undefined && body[alias] !== undefined) body[field] = body[alias]
      }
    }
    done()
  }
}

/** Adds a sentence to the route's documented description. */
function say (route: RouteOptions, sentence: string): void {
  const schema = route.schema as { description?: string } | undefined
  if (schema) schema.description = schema.description ? `${schema.description} ${sentence}` : sentence
}

function applyRoute (fastify: FastifyInstance, route: RouteOptions, own: RouteDialect): void {
  if (own.aliases) {
    route.preValidation = [aliasing(own.aliases), ...asArray(route.preValidation)]
    say(route, `This profile also takes ${Object.entries(own.aliases).map(([alias, field]) => `\`${alias}\` for \`${field}\``).join(', ')}.`)
    // Documented as optional fields: the alias is copied to the contract's field before validation.
    const schema = route.schema as { body?: { properties?: Record<string, unknown> } } | undefined
    if (schema?.body?.properties) {
      const added = Object.fromEntries(Object.entries(own.aliases).map(([alias, field]) => [alias, { type: 'string', description: `Taken for \`${field}\` when that is absent.` }]))
      schema.body = { ...schema.body, properties: { ...schema.body.properties, ...added } }
    }
  }
  if (own.noBearer) {
    // The authenticate hook goes; the route's other onRequest hooks stay.
    route.onRequest = asArray<onRequestHookHandler>(route.onRequest).filter((hook) => hook !== fastify.authenticate)
    const schema = route.schema as { security?: unknown; response?: Record<string, unknown> } | undefined
    if (schema) {
      schema.security = []
      // Without the Bearer check there is no 401 of a missing or refused access token.
      if (schema.response) delete schema.response[401]
    }
    say(route, 'This profile needs no Bearer token: the refresh token names the session.')
  }
  const answer = own.answer
  if (answer) {
    route.preSerialization = [
      ...asArray(route.preSerialization),
      (_request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: Error | null, value?: unknown) => void) => {
        // A sign-in that asks for its second step answers as the contract does, in every dialect.
        const reshape = reply.statusCode === answer.status && payload !== null && typeof payload === 'object' && !isMfaRequired(payload)
        done(null, reshape ? answer.reshape(payload as Record<string, unknown>) : payload)
      }
    ]
  }
}

/** Rewrites every route added from now on for the dialect (before the document reads it). */
export function installDialect (fastify: FastifyInstance, dialect: Dialect): void {
  fastify.addHook('onRoute', (route) => {
    const schema = route.schema as { operationId?: string; hide?: boolean; response?: Record<string, unknown> } | undefined
    const operationId = schema?.operationId
    const own = operationId === undefined ? undefined : dialect.routes[operationId]
    if (own) applyRoute(fastify, route, own)
    if (schema?.response && !schema.hide) schema.response = documentResponses(dialect, operationId, schema.response)
  })
}
