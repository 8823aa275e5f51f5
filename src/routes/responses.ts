// Response entries shared by routes: each status documented with its body, a description and
// an example, plus the responses every route can give whatever its handler (added in onRoute by
// plugins/external/swagger.ts, so a new route cannot forget them).
import Type, { type TSchema } from 'typebox'
import { commonSchemas } from '../schemas/common.js'
import { authSchemas } from '../schemas/auth.js'

/** Named examples: shown by name in the document (media `examples`). */
export type Examples = Record<string, { summary?: string; value: unknown }>

const shared = new Map<string, TSchema>(
  ([...commonSchemas, ...authSchemas] as TSchema[]).map((s) => [String((s as { $id?: string }).$id), s])
)

/** The examples a schema carries, following $refs to shared schemas and the branches of a union. */
function examplesOf (schema: Record<string, unknown>): unknown[] {
  if (Array.isArray(schema.examples)) return schema.examples
  if (typeof schema.$ref === 'string') return examplesOf((shared.get(schema.$ref) ?? {}) as Record<string, unknown>)
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as Record<string, unknown>[]).flatMap(examplesOf)
  return []
}

/** A documented response: what Fastify's `response` map takes in its per-media-type form. */
export interface ResponseEntry {
  description: string
  headers?: Record<string, { type: 'string'; description: string; 'x-sent-when'?: string }>
  content: { 'application/json': { schema: TSchema; examples?: Examples } }
}

/**
 * A response entry: the body schema with its description and examples (named ones, or else the
 * examples of the schema and of the shared schemas it refers to), and optional headers. The
 * per-media-type form keeps the examples next to a $ref, where a schema keyword would be lost.
 */
export function describe (
  schema: TSchema,
  description: string,
  examples?: Examples,
  headers?: Record<string, { type: 'string'; description: string; 'x-sent-when'?: string }>
): ResponseEntry {
  const own = examplesOf(schema as Record<string, unknown>)
  const found = examples ?? Object.fromEntries(own.map((value, i) => [own.length === 1 ? 'example' : `example${i + 1}`, { value }]))
  const { examples: _own, ...bare } = schema as Record<string, unknown>
  const media = { schema: bare as TSchema, ...(Object.keys(found).length > 0 ? { examples: found } : {}) }
  return { description, ...(headers ? { headers } : {}), content: { 'application/json': media } }
}

const PARSE_ERROR = { summary: 'Malformed JSON', value: { detail: "JSON parse error - Expected property name or '}' in JSON at position 1" } }

/** 400: DRF's field errors from validation, or a JSON parse error (DetailError). */
export const bad = (description = 'Invalid input: field-keyed lists of messages, or a JSON parse error.', fields?: Record<string, string[]>) =>
  describe(Type.Union([Type.Ref('FieldErrors'), Type.Ref('DetailError')]), description, {
    fields: { summary: 'Field errors', value: fields ?? { username: ['This field is required.'], password: ['This field is required.'] } },
    json: PARSE_ERROR
  })

/** 400 of a route that also answers with its own body (e.g. logout's MessageError). */
export const badOr = (schema: TSchema, description: string, examples: Examples) =>
  describe(Type.Union([schema, Type.Ref('FieldErrors'), Type.Ref('DetailError')]), description, {
    ...examples,
    fields: { summary: 'Wrong field type', value: { refresh: ['Not a valid string.'] } },
    json: PARSE_ERROR
  })

const retryAfter = { 'Retry-After': { type: 'string' as const, description: 'Seconds until the limit resets.' } }
export const throttledResponse = describe(
  Type.Ref('Throttled'),
  'Throttled: retry after the number of seconds in the Retry-After header.',
  undefined,
  retryAfter
)

/** 503: the database or the token store is down, slow or refusing writes (a route that needs it). */
export const unavailableResponse = describe(
  Type.Ref('DetailError'),
  'A dependency this route needs (the database or the token store) is down, slower than DEPENDENCY_TIMEOUT or refusing writes. Nothing was changed; retry after the Retry-After seconds.',
  { unavailable: { summary: 'Dependency unavailable', value: { detail: 'Service temporarily unavailable.' } } },
  { 'Retry-After': { type: 'string' as const, description: 'Seconds to wait before retrying.' } }
)

/** 400, 401, 429 and 503 of the two login routes; `invalid` is the route's one answer to wrong credentials. */
export const loginResponses = (invalid: string) => ({
  400: bad('Missing fields; or, with EMAIL_VERIFICATION=mandatory, right credentials of a user whose e-mail is not verified yet.', {
    username: ['This field is required.']
  }),
  401: describe(Type.Ref('DetailError'), 'Wrong credentials, unknown or inactive user (one answer for all).', {
    invalid: { summary: 'Wrong credentials', value: { detail: invalid } }
  }),
  429: throttledResponse,
  503: unavailableResponse
})

/** 403 of a cookie-authenticated request that fails the CSRF check. */
export const csrfResponse = describe(Type.Ref('DetailError'), 'CSRF: a request authenticated by a cookie without `X-Auth-Mode: cookie`, or from an origin that is not trusted. Nothing was changed.', {
  missing: { summary: 'No X-Auth-Mode header', value: { detail: 'CSRF Failed: CSRF token missing.' } },
  origin: { summary: 'A foreign Origin', value: { detail: 'CSRF Failed: Origin checking failed - https://evil.example does not match any trusted origins.' } },
  referer: { summary: 'Neither Origin nor Referer', value: { detail: 'CSRF Failed: Referer checking failed - no Referer.' } }
})

const wwwAuthenticate = { 'WWW-Authenticate': { type: 'string' as const, description: 'Always `Bearer realm="api"`.' } }
export const authResponses = {
  401: describe(
    Type.Ref('AuthError'),
    'No credentials, or a bad, expired, revoked (logged out, reuse detected, password changed) or wrong-type access token.',
    {
      missing: { summary: 'No Authorization header', value: { detail: 'Authentication credentials were not provided.' } },
      invalid: {
        summary: 'Bad, expired, revoked or refresh token',
        value: {
          detail: 'Given token not valid for any token type',
          code: 'token_not_valid',
          messages: [{ token_class: 'AccessToken', token_type: 'access', message: 'Token is invalid or expired' }]
        }
      }
    },
    wwwAuthenticate
  ),
  // Only with ACCESS_COOKIE: a request that the access cookie authenticates.
  403: csrfResponse
}
export const bearer = [{ bearerAuth: [] }]

/** 401 of the refresh and verify endpoints. */
export const tokenErrorResponse = (description: string) =>
  describe(Type.Ref('TokenError'), description, {
    invalid: { summary: 'Invalid, expired or wrong type', value: { detail: 'Token is invalid or expired', code: 'token_not_valid' } },
    blacklisted: { summary: 'Rotated or revoked', value: { detail: 'Token is blacklisted', code: 'token_not_valid' } }
  })

const detail = (description: string, summary: string, message: string) =>
  describe(Type.Ref('DetailError'), description, { [summary.toLowerCase().replace(/\W+/g, '_')]: { summary, value: { detail: message } } })

/** Methods whose bodies Fastify parses: they can fail parsing, size and content type. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

/**
 * The responses a route gives whatever its handler does: a JSON parse error, an oversized body
 * and a wrong content type for methods with a body (a route's own 400 must cover parse errors:
 * `bad()` does), and a bare 500. Only missing entries are added.
 */
export function commonResponses (methods: string[]): Record<string, ResponseEntry> {
  const out: Record<string, ResponseEntry> = {}
  if (methods.some((m) => BODY_METHODS.has(m))) {
    out[400] = detail('The body is not valid JSON.', 'Malformed JSON', PARSE_ERROR.value.detail)
    out[413] = detail('The body is larger than 32 KiB.', 'Too large', 'Request body is too large.')
    out[415] = detail('The body is not `application/json`.', 'Not JSON', 'Unsupported media type "text/plain" in request.')
  }
  out[500] = detail('A server error; details are only logged, with the request id.', 'Server error', 'Internal server error')
  return out
}

/** Answers that no route gives, documented under components/responses. */
export const routelessResponses = {
  NotFound: {
    description: 'No route has this path.',
    content: { 'application/json': { schema: { $ref: '#/components/schemas/DetailError' }, example: { detail: 'Not found.' } } }
  },
  MethodNotAllowed: {
    description: "The path exists but not with this method; the Allow header lists the path's methods.",
    headers: { Allow: { description: 'The methods the path accepts.', schema: { type: 'string' as const } } },
    content: { 'application/json': { schema: { $ref: '#/components/schemas/DetailError' }, example: { detail: 'Method "GET" not allowed.' } } }
  }
}
