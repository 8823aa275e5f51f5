// Maps every error to the bodies of the HTTP contract: ApiErrors as they are, schema validation to DRF's
// field-keyed messages, Fastify's client errors to DRF's wording, anything else to a bare 500
// whose details only reach the log (with the request id).
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ApiError, DependencyError, REQUIRED, serviceUnavailable, type ErrorBody } from '../plugins/app/errors.js'

interface AjvError {
  keyword: string
  instancePath: string
  params: Record<string, unknown>
  message?: string
}

const BLANK = 'This field may not be blank.'

const PY_TYPE = (v: unknown): string =>
  v === null ? 'NoneType' : Array.isArray(v) ? 'list' : typeof v === 'string' ? 'str' : typeof v === 'boolean' ? 'bool' : typeof v === 'number' ? (Number.isInteger(v) ? 'int' : 'float') : 'dict'

const PATTERN_MESSAGES: Record<string, string> = {
  username: 'Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.'
}

const FORMAT_MESSAGES: Record<string, string> = {
  email: 'Enter a valid email address.',
  uuid: 'Must be a valid UUID.'
}

const LONE_SURROGATE = /[\uD800-\uDFFF]/u

/** DRF's message for a string no database text can hold (a NUL, a lone surrogate), or null. */
function textProblem (value: unknown): string | null {
  if (typeof value !== 'string') return null
  if (value.includes('\0')) return 'Null characters are not allowed.'
  const surrogate = LONE_SURROGATE.exec(value)?.[0]
  return surrogate ? `Surrogate characters are not allowed: U+${surrogate.charCodeAt(0).toString(16).toUpperCase()}.` : null
}

/** DRF's field-keyed messages for a list of Ajv errors over `body`. */
export function validationToFieldErrors (errors: readonly AjvError[], body: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  const add = (field: string, message: string) => {
    const list = (out[field] ??= [])
    if (!list.includes(message)) list.push(message)
  }
  const isObject = typeof body === 'object' && body !== null && !Array.isArray(body)
  for (const e of errors) {
    const field = e.instancePath.split('/')[1]?.replace(/~1/g, '/').replace(/~0/g, '~') ?? ''
    if (!field) {
      if (e.keyword === 'required') add(String(e.params.missingProperty), REQUIRED)
      else if (!isObject) add('non_field_errors', `Invalid data. Expected a dictionary, but got ${PY_TYPE(body)}.`)
      else add('non_field_errors', 'Invalid data.')
      continue
    }
    const value = isObject ? (body as Record<string, unknown>)[field] : undefined
    switch (e.keyword) {
      case 'type':
        add(field, value === null ? 'This field may not be null.' : e.params.type === 'boolean' ? 'Must be a valid boolean.' : 'Not a valid string.')
        break
      case 'minLength':
        add(field, e.params.limit === 1 ? BLANK : `Ensure this field has at least ${String(e.params.limit)} characters.`)
        break
      case 'maxLength':
        add(field, `Ensure this field has no more than ${String(e.params.limit)} characters.`)
        break
      case 'pattern':
        add(field, textProblem(value) ?? PATTERN_MESSAGES[field] ?? 'Enter a valid value.')
        break
      case 'format':
        add(field, FORMAT_MESSAGES[String(e.params.format)] ?? 'Enter a valid value.')
        break
      default:
        add(field, 'Invalid value.')
    }
  }
  // Once the body is not an object, per-field messages would only repeat it.
  if (!isObject && out.non_field_errors) return { non_field_errors: out.non_field_errors }
  // DRF stops at a blank value: its validators (pattern, format) never see it.
  for (const [field, messages] of Object.entries(out)) {
    if (messages.includes(BLANK)) out[field] = [BLANK]
  }
  return out
}

/** An error body in the dialect of the API profile in force (the route's operationId, when routed). */
export type ErrorTranslation = (operationId: string | undefined, status: number, body: ErrorBody) => ErrorBody

export function installErrorHandling (fastify: FastifyInstance, translate?: ErrorTranslation): void {
  // Error bodies are sent as they are, never through a route's response serializer: a JSON
  // parse error on a route whose documented 400 is field errors must still say what happened.
  // Every error answer passes here, so a profile's envelope is applied in this one place.
  const send = (reply: FastifyReply, status: number, body: ErrorBody, headers: Record<string, string> = {}) => {
    const out = translate ? translate((reply.request.routeOptions.schema as { operationId?: string } | undefined)?.operationId, status, body) : body
    return reply.code(status).headers(headers).type('application/json; charset=utf-8').send(JSON.stringify(out))
  }

  fastify.setErrorHandler(function errorHandler (error: FastifyError | ApiError, request: FastifyRequest, reply: FastifyReply) {
    if (error instanceof ApiError) return send(reply, error.statusCode, error.body, error.headers)
    // Reported (and logged, throttled) by the outages guard where it was made.
    if (error instanceof DependencyError) {
      const unavailable = serviceUnavailable()
      return send(reply, unavailable.statusCode, unavailable.body, unavailable.headers)
    }
    const validation = (error as FastifyError).validation
    if (validation && (error as FastifyError).validationContext === 'body') {
      return send(reply, 400, validationToFieldErrors(validation as AjvError[], request.body))
    }
    if (validation) return send(reply, 400, { detail: 'Invalid request.' })
    const status = (error as FastifyError).statusCode ?? 500
    const code = (error as FastifyError).code
    if (status >= 400 && status < 500) {
      switch (code) {
        case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
          return send(reply, 415, { detail: `Unsupported media type "${request.headers['content-type'] ?? ''}" in request.` })
        case 'FST_ERR_CTP_BODY_TOO_LARGE':
          return send(reply, 413, { detail: 'Request body is too large.' })
      }
      if (error instanceof SyntaxError || code === 'FST_ERR_CTP_INVALID_JSON_BODY' || code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
        return send(reply, 400, { detail: `JSON parse error - ${error.message}` })
      }
      return send(reply, status, { detail: error.message })
    }
    request.log.error({ err: error, reqId: request.id }, 'unhandled error')
    return send(reply, 500, { detail: 'Internal server error' })
  })
}
