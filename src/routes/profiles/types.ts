// What a compatibility profile (API_PROFILE) is made of: per route, the request fields it takes
// under other names, the shape of its success answer, its own error messages, and whether it
// needs a Bearer token; for every route, the error envelope. The flows are the same for every
// profile (DESIGN.md: a thin translation at the HTTP edge, never a second copy of a flow).
import type { TSchema } from 'typebox'
import type { ApiProfile } from '../../../plugins/app/config/index.js'
import type { ErrorBody } from '../../../plugins/app/errors.js'

/** A route's success answer in the profile's shape. */
export interface Answer {
  status: number
  /** From the route's own answer (as its handler returns it) to the profile's. */
  reshape(body: Record<string, unknown>): unknown
  schema: TSchema
  description: string
  example: unknown
}

export interface RouteDialect {
  /** Request fields taken under another name: alias -> the contract's field (used when that one is absent). */
  aliases?: Record<string, string>
  answer?: Answer
  /** This route's own error message for an answer (status and the contract's body); undefined: the envelope of that body. */
  error?(status: number, body: ErrorBody): string | undefined
  /** The body's refresh token alone names the session: no Bearer token needed. */
  noBearer?: true
}

export interface Dialect {
  name: Exclude<ApiProfile, 'simplejwt'>
  /** A paragraph for the OpenAPI document's description. */
  summary: string
  /** By operationId. */
  routes: Record<string, RouteDialect>
  /** Any error body of the contract in this profile's envelope. */
  envelope(body: ErrorBody): ErrorBody
  /** The envelope's schema, for the document. */
  errorSchema: TSchema
}

/** The first message of each field, or the detail: a contract error body as one sentence. */
export function oneMessage (body: ErrorBody): string {
  if (typeof body.error === 'string') return body.error
  if (typeof body.detail === 'string') return body.detail
  return Object.entries(body)
    .map(([field, value]) => {
      const text = (Array.isArray(value) ? value : [value]).map(String).join(' ')
      return field === 'non_field_errors' ? text : `${field}: ${text}`
    })
    .join(' ')
}
