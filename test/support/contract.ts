// Contract check: every response a test receives through `app.inject` is validated against what
// the served OpenAPI document (app.swagger()) declares for that path, method and status, so the
// document cannot drift from the behaviour. Installed on every app by test/helper.ts.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsModule, { type FormatsPlugin } from 'ajv-formats'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'

// ajv-formats is CommonJS: its default export is the module itself under NodeNext.
const addFormats = ((addFormatsModule as unknown as { default?: FormatsPlugin }).default ?? addFormatsModule) as FormatsPlugin

type Json = Record<string, any>

/** Served but deliberately not in the document: the document itself and the docs UI. */
export const UNDOCUMENTED: RegExp[] = [/^\/openapi\.json$/, /^\/docs(\/|$)/]

/** One answer as the check sees it. */
export interface Exchange {
  method: string
  url: string
  status: number
  headers: Record<string, string | string[] | number | undefined>
  body: string
  /** The request's headers (a CORS preflight is recognised by them). */
  requestHeaders?: Record<string, string | string[] | number | undefined>
}

export interface ContractCheck {
  /** null when the answer matches the document, else what is wrong. */
  check(exchange: Exchange): string | null
  /** The compiled validator of a schema at a JSON pointer into the document. */
  validatorAt(pointer: string): ValidateFunction
}

const DOC_ID = 'openapi.json'
const escape = (part: string) => encodeURIComponent(part.replace(/~/g, '~0').replace(/\//g, '~1'))
const pointer = (...parts: string[]) => '#/' + parts.map(escape).join('/')
const normalize = (path: string) => path.replace(/\/+$/, '') || '/'

/** A checker over one OpenAPI 3.1 document; each schema is compiled once, when first needed. */
export function createContractCheck (document: Json): ContractCheck {
  const doc = structuredClone(document)
  // The whole document is registered so the schemas' #/components/schemas/... refs resolve;
  // it is not itself a schema, hence no strict mode.
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false })
  addFormats(ajv)
  ajv.addSchema(doc, DOC_ID)
  const compiled = new Map<string, ValidateFunction>()
  const validatorAt = (ptr: string) => {
    let v = compiled.get(ptr)
    if (!v) {
      v = ajv.compile({ $ref: `${DOC_ID}${ptr}` })
      compiled.set(ptr, v)
    }
    return v
  }

  // Path templates ({id}) as patterns, trailing slashes ignored as the app ignores them.
  const paths = Object.keys(doc.paths ?? {}).map((key) => ({
    key,
    pattern: new RegExp('^' + normalize(key).replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+') + '$')
  }))

  function resolveResponse (response: Json): [Json, string[]] {
    const ref = response.$ref as string | undefined
    if (!ref) return [response, []]
    const name = ref.replace('#/components/responses/', '')
    return [doc.components.responses[name], ['components', 'responses', name]]
  }

  function check ({ method, url, status, headers, body, requestHeaders = {} }: Exchange): string | null {
    // CORS preflights are the browser's protocol, not operations of the API.
    if (method.toUpperCase() === 'OPTIONS' && requestHeaders['access-control-request-method'] !== undefined) return null
    const path = normalize(url.split('?')[0]!)
    const verb = method.toUpperCase() === 'HEAD' ? 'get' : method.toLowerCase()
    // A fixed path matches before a templated one (OpenAPI's rule, and the router's):
    // /api/auth/passkeys/login/ is not /api/auth/passkeys/{id}/.
    const entry = paths.find((p) => !p.key.includes('{') && p.pattern.test(path)) ?? paths.find((p) => p.pattern.test(path))
    let response: Json | undefined
    let at: string[]
    if (!entry) {
      if (UNDOCUMENTED.some((re) => re.test(path))) return null
      if (status !== 404) return `${status} for a path that the document does not list (only 404 is expected)`
      ;[response, at] = [doc.components.responses.NotFound, ['components', 'responses', 'NotFound']]
    } else if (!doc.paths[entry.key][verb]) {
      if (status !== 405) return `${status} for a method that the document does not list for ${entry.key} (only 405 is expected)`
      ;[response, at] = [doc.components.responses.MethodNotAllowed, ['components', 'responses', 'MethodNotAllowed']]
    } else {
      const responses = doc.paths[entry.key][verb].responses as Json
      const code = [String(status), `${String(status)[0]}XX`, 'default'].find((c) => responses[c])
      if (!code) return `status ${status} is not documented for ${verb.toUpperCase()} ${entry.key} (documented: ${Object.keys(responses).join(', ')})`
      const [resolved, refAt] = resolveResponse(responses[code])
      response = resolved
      at = refAt.length > 0 ? refAt : ['paths', entry.key, verb, 'responses', code]
    }
    if (!response) return 'the document has no entry for this answer'

    // Documented headers are ones this API always sends (Retry-After, WWW-Authenticate, Allow),
    // except those marked as sent only in some cases (Set-Cookie: x-sent-when cookie mode).
    for (const [name, entry] of Object.entries((response.headers ?? {}) as Record<string, { schema?: Record<string, unknown> }>)) {
      if (entry.schema?.['x-sent-when'] !== undefined) continue
      if (headers[name.toLowerCase()] === undefined) return `header ${name} is documented but missing`
    }
    if (method.toUpperCase() === 'HEAD') return null

    const content = (response.content ?? {}) as Json
    const mediaTypes = Object.keys(content)
    if (mediaTypes.length === 0) return body === '' ? null : 'a body where the document declares none'
    const type = String(headers['content-type'] ?? '').split(';')[0]!.trim()
    const media = mediaTypes.find((m) => m === type)
    if (!media) return `content-type "${type}" where the document declares ${mediaTypes.join(', ')}`
    // A body in another format (the Prometheus text of /metrics) is checked for its type only.
    if (!content[media].schema || !media.endsWith('json')) return null
    let parsed: unknown
    try {
      parsed = JSON.parse(body)
    } catch {
      return `a body that is not JSON: ${body.slice(0, 200)}`
    }
    const validate = validatorAt(pointer(...at, 'content', media, 'schema'))
    if (validate(parsed)) return null
    return `body does not match the document's schema: ${ajv.errorsText(validate.errors)}`
  }

  return { check, validatorAt }
}

export class ContractViolation extends Error {
  constructor (readonly exchange: Exchange, problem: string) {
    super(`Contract: ${exchange.method} ${exchange.url} answered ${exchange.status}: ${problem}\n  body: ${exchange.body.slice(0, 500)}`)
    this.name = 'ContractViolation'
  }
}

/**
 * Wraps `app.inject` so every response (promise and callback forms) is checked against the
 * app's own document; a mismatch rejects the call with a ContractViolation, failing the test at
 * the request that broke the contract. The chain form (`inject()` without options) is left as is.
 */
export function installContractCheck (app: FastifyInstance): void {
  let contract: ContractCheck | undefined
  const original = app.inject.bind(app) as (opts?: InjectOptions | string, cb?: (err: Error | null, res?: LightMyRequestResponse) => void) => unknown

  const verify = (res: LightMyRequestResponse) => {
    contract ??= createContractCheck(app.swagger() as Json)
    const req = res.raw.req as { method?: string; url?: string; headers?: Exchange['requestHeaders'] }
    const exchange: Exchange = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      status: res.statusCode,
      headers: res.headers,
      body: res.body,
      requestHeaders: req.headers ?? {}
    }
    const problem = contract.check(exchange)
    if (problem) throw new ContractViolation(exchange, problem)
    return res
  }

  const wrapped = (opts?: InjectOptions | string, cb?: (err: Error | null, res?: LightMyRequestResponse) => void) => {
    if (opts === undefined) return original()
    if (cb) {
      return original(opts, (err, res) => {
        if (err || !res) return cb(err)
        try {
          cb(null, verify(res))
        } catch (violation) {
          cb(violation as Error)
        }
      })
    }
    return (original(opts) as Promise<LightMyRequestResponse>).then(verify)
  }
  app.inject = wrapped as unknown as FastifyInstance['inject']
}
