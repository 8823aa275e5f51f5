// The OpenAPI document: generated file in sync, valid 3.1, complete against API.md, examples
// true to their schemas, served with an offline /docs, and the contract check that every test's
// responses go through really rejects answers that differ from it.
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import SwaggerParser from '@apidevtools/swagger-parser'
import { parse, type Tags } from 'yaml'
import { build, get } from './helper.js'
import { documentYaml } from '../scripts/openapi-yaml.js'
import { createContractCheck, type Exchange } from './support/contract.js'

type Json = Record<string, any>

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
// A YAML 1.1 reader. tap's own YAML support switches timestamps off in the shared `yaml` module
// (tap-yaml sets the tag's `default` to false): a copy of the tag switches them back on.
const YAML_1_1 = {
  version: '1.1',
  customTags: (tags: Tags) => tags.map((tag) => (typeof tag === 'object' && tag.tag === 'tag:yaml.org,2002:timestamp' ? { ...tag, default: true } : tag))
} as const
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']

const { app } = await build(t, 'embedded')
const doc = app.swagger() as Json
const operations = Object.entries(doc.paths as Json).flatMap(([path, item]) =>
  Object.entries(item as Json)
    .filter(([method]) => METHODS.includes(method))
    .map(([method, op]) => ({ path, method, op: op as Json }))
)
const op = (method: string, path: string) => {
  const found = (doc.paths as Json)[path]?.[method]
  if (!found) throw new Error(`no ${method} ${path} in the document`)
  return found as Json
}

t.test('openapi.yaml is exactly what the app generates (npm run openapi)', async (t) => {
  const committed = await readFile(join(root, 'openapi.yaml'), 'utf8')
  t.equal(committed, documentYaml(doc), 'openapi.yaml is stale: run `npm run openapi` and commit it')
  t.same(parse(committed), doc, 'the YAML holds the served document')
  // YAML 1.1 readers (PyYAML, SnakeYAML, many OpenAPI tools) read unquoted dates as timestamps,
  // y/n/yes/no as booleans...: the file must read as the same document there too.
  t.same(parse(committed, YAML_1_1), doc, 'a YAML 1.1 reader sees the same document')
})

t.test('GET /openapi.json serves the same document', async (t) => {
  const res = await get(app, '/openapi.json')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  t.same(res.json(), doc)
  t.equal(res.json().openapi, '3.1.0')
})

t.test('the document is valid OpenAPI 3.1 (@apidevtools/swagger-parser)', async (t) => {
  await t.resolves(SwaggerParser.validate(structuredClone(doc) as never))
  // The validator is not a rubber stamp: a response without a description, a dangling $ref.
  const noDescription = structuredClone(doc)
  delete noDescription.paths['/api/auth/login/'].post.responses['200'].description
  await t.rejects(SwaggerParser.validate(noDescription as never), /description/)
  const dangling = structuredClone(doc)
  dangling.paths['/api/auth/me/'].get.responses['200'].content['application/json'].schema = { $ref: '#/components/schemas/Nope' }
  await t.rejects(SwaggerParser.validate(dangling as never), /Nope/)
})

t.test('every status of API.md is documented for its route', async (t) => {
  // From API.md: status codes per route (the body ones also get 400/413/415, every one 500); 503
  // on every route that needs the database or the token store ("When a dependency fails").
  const expected: Array<[string, string, number[]]> = [
    ['post', '/api/auth/register/', [201, 400, 429, 503]],
    ['post', '/api/auth/login/', [200, 400, 401, 429, 503]],
    ['post', '/api/token/', [200, 400, 401, 429, 503]],
    ['post', '/api/token/refresh/', [200, 400, 401, 429, 503]],
    ['post', '/api/auth/token/refresh/', [200, 400, 401, 429, 503]],
    ['post', '/api/auth/refresh/', [200, 400, 401, 429, 503]],
    ['post', '/api/token/verify/', [200, 401, 503]],
    ['post', '/api/auth/logout/', [200, 400, 401, 403, 503]],
    ['post', '/api/auth/logout/all/', [200, 400, 401, 503]],
    ['get', '/api/auth/me/', [200, 401, 503]],
    ['patch', '/api/auth/me/', [200, 400, 401, 503]],
    ['delete', '/api/auth/me/', [204, 400, 401, 429, 503]],
    ['get', '/api/auth/sessions/', [200, 401, 503]],
    ['delete', '/api/auth/sessions/{id}/', [204, 401, 404, 503]],
    ['post', '/api/auth/password/change/', [200, 400, 401, 429, 503]],
    ['post', '/api/auth/password/reset/', [200, 400, 429, 503]],
    ['post', '/api/auth/password/reset/confirm/', [200, 400, 503]],
    ['post', '/api/auth/registration/verify-email/', [200, 400, 404, 503]],
    ['post', '/api/auth/registration/resend-email/', [200, 400, 429, 503]],
    ['get', '/api/protected-endpoint/', [200, 401, 503]],
    ['post', '/api/auth/email/change/', [200, 400, 401, 429, 503]],
    ['post', '/api/auth/email/change/confirm/', [200, 400, 404, 503]],
    // Two-factor authentication.
    ['get', '/api/auth/mfa/', [200, 401, 503]],
    ['post', '/api/auth/mfa/totp/setup/', [200, 400, 401, 503]],
    ['post', '/api/auth/mfa/totp/confirm/', [200, 400, 401, 503]],
    ['post', '/api/auth/mfa/totp/disable/', [200, 400, 401, 429, 503]],
    ['post', '/api/auth/mfa/recovery-codes/', [200, 400, 401, 429, 503]],
    ['post', '/api/auth/login/code/', [200, 400, 429, 503]],
    ['post', '/api/auth/passkeys/register/options/', [200, 400, 401, 429, 503]],
    ['post', '/api/auth/passkeys/register/', [201, 400, 401, 503]],
    ['get', '/api/auth/passkeys/', [200, 401, 503]],
    ['delete', '/api/auth/passkeys/{id}/', [204, 400, 401, 404, 429, 503]],
    ['post', '/api/auth/passkeys/login/options/', [200, 400, 429, 503]],
    ['post', '/api/auth/passkeys/login/', [200, 400, 401, 429, 503]],
    // Administration.
    ['get', '/api/admin/users/', [200, 400, 401, 403, 404, 503]],
    ['get', '/api/admin/users/{id}/', [200, 401, 403, 404, 503]],
    ['patch', '/api/admin/users/{id}/', [200, 400, 401, 403, 404, 503]],
    ['delete', '/api/admin/users/{id}/', [204, 401, 403, 404, 503]],
    ['get', '/api/admin/users/{id}/sessions/', [200, 401, 403, 404, 503]],
    ['delete', '/api/admin/users/{id}/sessions/{sid}/', [204, 401, 403, 404, 503]],
    ['post', '/api/admin/users/{id}/logout-all/', [200, 401, 403, 404, 503]],
    ['post', '/api/admin/users/{id}/password-reset/', [200, 401, 403, 404, 503]],
    ['post', '/api/admin/users/{id}/mfa/reset/', [200, 401, 403, 404, 503]],
    ['get', '/health/live', [200]],
    ['get', '/health/ready', [200, 503]],
    ['get', '/.well-known/jwks.json', [200]],
    ['get', '/metrics', [200, 403]]
  ]
  t.same(
    operations.map((o) => `${o.method} ${o.path}`).sort(),
    expected.map(([m, p]) => `${m} ${p}`).sort(),
    'exactly the routes of API.md'
  )
  for (const [method, path, statuses] of expected) {
    const documented = Object.keys(op(method, path).responses)
    const all = [...statuses, 500, ...(['post', 'patch', 'delete'].includes(method) ? [400, 413, 415] : [])]
    for (const s of all) t.ok(documented.includes(String(s)), `${method} ${path} documents ${s}`)
  }
  t.same(Object.keys(doc.components.responses).sort(), ['MethodNotAllowed', 'NotFound'], '404 and 405 of unknown paths/methods')
})

t.test('every response has a description and an example; bodies have examples', async (t) => {
  for (const { path, method, op } of operations) {
    t.ok(op.summary, `${method} ${path} has a summary`)
    t.ok(op.operationId, `${method} ${path} has an operationId`)
    for (const [status, response] of Object.entries(op.responses as Json)) {
      t.ok(response.description && response.description !== 'Default Response', `${method} ${path} ${status} has a description`)
      if (status === '204') {
        t.notOk(response.content, `${method} ${path} 204 has no body`)
        continue
      }
      // /metrics answers in the Prometheus text format.
      const media = response.content?.['application/json'] ?? response.content?.['text/plain']
      t.ok(media?.schema, `${method} ${path} ${status} has a schema`)
      t.ok(media?.example !== undefined || Object.keys(media?.examples ?? {}).length > 0, `${method} ${path} ${status} has an example`)
    }
    const body = op.requestBody?.content?.['application/json']
    if (body) t.ok(body.example !== undefined || body.examples, `${method} ${path} request body has an example`)
  }
})

t.test('every example validates against the schema it illustrates', async (t) => {
  const contract = createContractCheck(doc)
  const ptr = (...parts: string[]) => '#/' + parts.map((p) => encodeURIComponent(p.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/')
  const checkMedia = (where: string[], media: Json) => {
    const validate = contract.validatorAt(ptr(...where, 'schema'))
    const values: Array<[string, unknown]> = [
      ...(media.example !== undefined ? [['example', media.example] as [string, unknown]] : []),
      ...Object.entries((media.examples ?? {}) as Json).map(([name, ex]) => [name, (ex as Json).value] as [string, unknown])
    ]
    for (const [name, value] of values) {
      t.ok(validate(value), `${where.join(' ')} example "${name}" ${JSON.stringify(validate.errors ?? '')}`)
    }
    return values.length
  }
  let count = 0
  for (const { path, method, op } of operations) {
    for (const [status, response] of Object.entries(op.responses as Json)) {
      const media = (response as Json).content?.['application/json']
      if (media) count += checkMedia(['paths', path, method, 'responses', status, 'content', 'application/json'], media)
    }
    const body = op.requestBody?.content?.['application/json']
    if (body) count += checkMedia(['paths', path, method, 'requestBody', 'content', 'application/json'], body)
  }
  for (const [name, response] of Object.entries(doc.components.responses as Json)) {
    count += checkMedia(['components', 'responses', name, 'content', 'application/json'], (response as Json).content['application/json'])
  }
  // Component schemas carry JSON Schema `examples` arrays.
  for (const [name, schema] of Object.entries(doc.components.schemas as Json)) {
    const validate = contract.validatorAt(ptr('components', 'schemas', name))
    for (const value of ((schema as Json).examples ?? []) as unknown[]) {
      count++
      t.ok(validate(value), `components/schemas/${name} example ${JSON.stringify(value)}`)
    }
  }
  t.ok(count > 50, `${count} examples checked`)
  // And a wrong example would be caught.
  t.notOk(contract.validatorAt(ptr('components', 'schemas', 'TokenError'))({ detail: 'Token is invalid or expired' }))
})

t.test('shared schemas are named by $id; protected routes declare bearer security', async (t) => {
  const names = Object.keys(doc.components.schemas)
  for (const name of ['User', 'Session', 'MfaRequired', 'TokenPair', 'Jwt', 'FieldErrors', 'DetailError', 'TokenError', 'AuthError', 'Throttled', 'Username', 'Email', 'Password']) {
    t.ok(names.includes(name), `components/schemas/${name}`)
  }
  t.notOk(names.some((n) => /^def-\d+$/.test(n)), 'no def-N names')
  t.notMatch(JSON.stringify(doc), /def-\d+/, 'no reference to a def-N schema')
  t.same(doc.components.securitySchemes.bearerAuth, {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: doc.components.securitySchemes.bearerAuth.description
  })
  t.match(doc.components.securitySchemes.refreshCookie, { type: 'apiKey', in: 'cookie', name: 'refresh_token' })
  const bearerSecured = (o: { op: { security?: Array<Record<string, unknown>> } }) => o.op.security?.some((s) => 'bearerAuth' in s) === true
  const secured = operations.filter(bearerSecured).map((o) => `${o.method} ${o.path}`).sort()
  t.same(secured, [
    'delete /api/admin/users/{id}/',
    'delete /api/admin/users/{id}/sessions/{sid}/',
    'delete /api/auth/me/',
    'delete /api/auth/passkeys/{id}/',
    'delete /api/auth/sessions/{id}/',
    'get /api/admin/users/',
    'get /api/admin/users/{id}/',
    'get /api/admin/users/{id}/sessions/',
    'get /api/auth/me/',
    'get /api/auth/mfa/',
    'get /api/auth/passkeys/',
    'get /api/auth/sessions/',
    'get /api/protected-endpoint/',
    'patch /api/admin/users/{id}/',
    'patch /api/auth/me/',
    'post /api/admin/users/{id}/logout-all/',
    'post /api/admin/users/{id}/mfa/reset/',
    'post /api/admin/users/{id}/password-reset/',
    'post /api/auth/email/change/',
    'post /api/auth/logout/',
    'post /api/auth/logout/all/',
    'post /api/auth/mfa/recovery-codes/',
    'post /api/auth/mfa/totp/confirm/',
    'post /api/auth/mfa/totp/disable/',
    'post /api/auth/mfa/totp/setup/',
    'post /api/auth/passkeys/register/',
    'post /api/auth/passkeys/register/options/',
    'post /api/auth/password/change/'
  ])
  for (const { op, path } of operations.filter(bearerSecured)) {
    // Logout also names the refresh cookie (cookie mode), always with the Bearer token.
    t.same(op.security, path === '/api/auth/logout/' ? [{ bearerAuth: [], refreshCookie: [] }, { bearerAuth: [] }] : [{ bearerAuth: [] }])
    t.equal(op.responses['401'].content['application/json'].schema.$ref, '#/components/schemas/AuthError')
    t.ok(op.responses['401'].headers['WWW-Authenticate'])
  }
  // The refresh routes: the token in the body, or the refresh cookie (cookie mode).
  const byCookie = operations.filter((o) => o.op.security && !bearerSecured(o)).map((o) => `${o.method} ${o.path}`).sort()
  t.same(byCookie, ['post /api/auth/refresh/', 'post /api/auth/token/refresh/', 'post /api/token/refresh/'])
  for (const { op } of operations.filter((o) => o.op.security && !bearerSecured(o))) t.same(op.security, [{}, { refreshCookie: [] }])
  for (const { op } of operations.filter((o) => o.op.responses['429'])) t.ok(op.responses['429'].headers['Retry-After'])
})

t.test('/docs works offline: bundled assets, no CDN, no online validator', async (t) => {
  let res = await get(app, '/docs')
  if (res.statusCode >= 300 && res.statusCode < 400) res = await get(app, new URL(res.headers.location!, 'http://x/docs').pathname)
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/html/)
  const html = res.body
  t.notMatch(html, /(src|href)\s*=\s*["']?(https?:)?\/\//i, 'no asset from another host')
  const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((a) => !a.startsWith('data:'))
  t.ok(assets.some((a) => a.includes('swagger-ui-bundle.js')), 'the UI bundle is referenced')
  for (const asset of assets) {
    const url = new URL(asset, 'http://x/docs/').pathname
    const r = await get(app, url)
    t.equal(r.statusCode, 200, `${url} is served by the app`)
  }
  const init = await get(app, '/docs/static/swagger-initializer.js')
  t.equal(init.statusCode, 200)
  t.match(init.body, /validatorUrl: null/, 'no online validator badge')
  t.notMatch(init.body, /petstore/i)
  t.notMatch(init.body.replace(/\/\/[^\n]*/g, ''), /https?:\/\//, 'no absolute URL outside comments')
  const json = await get(app, '/docs/json')
  t.equal(json.statusCode, 200)
  t.same(json.json().paths, doc.paths, '/docs reads the same document')
})

t.test('the contract check rejects answers that differ from the document', async (t) => {
  const contract = createContractCheck(doc)
  const json = { 'content-type': 'application/json; charset=utf-8' }
  const ex = (over: Partial<Exchange>): Exchange => ({ method: 'GET', url: '/health/live', status: 200, headers: json, body: '{"status":"ok"}', ...over })
  t.equal(contract.check(ex({})), null, 'a documented answer passes')
  t.equal(contract.check(ex({ url: '/health/live/?x=1' })), null, 'trailing slash and query ignored')
  t.match(contract.check(ex({ body: '{"status":"fine"}' })), /does not match/, 'wrong body')
  t.match(contract.check(ex({ status: 418 })), /not documented/, 'undocumented status')
  t.match(contract.check(ex({ headers: { 'content-type': 'text/plain' } })), /content-type/, 'wrong media type')
  t.match(contract.check(ex({ body: 'ok' })), /not JSON/, 'not JSON')
  t.equal(contract.check(ex({ url: '/nowhere', status: 404, body: '{"detail":"Not found."}' })), null, '404 of an unknown path')
  t.match(contract.check(ex({ url: '/nowhere', status: 200 })), /does not list/, 'an undocumented path')
  t.equal(
    contract.check(ex({ method: 'PUT', url: '/api/auth/me/', status: 405, headers: { ...json, allow: 'GET, HEAD, PATCH, DELETE' }, body: '{"detail":"Method \\"PUT\\" not allowed."}' })),
    null,
    '405 of a known path'
  )
  t.match(contract.check(ex({ method: 'PUT', url: '/api/auth/me/', status: 405, body: '{"detail":"x"}' })), /Allow/, '405 without Allow')
  t.match(
    contract.check(ex({ method: 'GET', url: '/api/auth/me/', status: 401, body: '{"detail":"Authentication credentials were not provided."}' })),
    /WWW-Authenticate/,
    'a 401 without WWW-Authenticate'
  )
  t.match(
    contract.check(ex({ method: 'POST', url: '/api/token/refresh/', status: 401, body: '{"detail":"Token is invalid or expired","code":"token_not_valid","extra":1}' })),
    /does not match/,
    'an extra field in an error body'
  )
  t.equal(contract.check(ex({ url: '/openapi.json', body: '{}' })), null, 'the document itself is not part of it')
})

t.test('the contract check is wired into every app the helper builds', async (t) => {
  const { app: fresh } = await build(t, 'embedded')
  // Break the served document before the first request: the helper's check must then reject a
  // call whose answer used to match.
  const served = fresh.swagger() as Json
  served.paths['/health/live'].get.responses['200'].content['application/json'].schema = {
    type: 'object',
    required: ['uptime'],
    properties: { uptime: { type: 'number' } }
  }
  await t.rejects(fresh.inject({ method: 'GET', url: '/health/live' }), { name: 'ContractViolation', message: /health\/live answered 200/ })
})
