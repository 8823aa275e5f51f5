// The OpenAPI document of each compatibility profile: the one a deployment under API_PROFILE
// serves, committed as docs/openapi-<profile>.yaml (npm run openapi) and kept in sync, valid
// OpenAPI 3.1, and describing the profile: its answers, its error envelope, logout without Bearer.
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import SwaggerParser from '@apidevtools/swagger-parser'
import { build } from './helper.js'
import { documentYaml } from '../scripts/openapi-yaml.js'
import { createContractCheck, type Exchange } from './support/contract.js'

type Json = Record<string, any>
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const STATUS_ONLY = /^[45]\d\d$/

const expected: Record<string, { login: string[]; refresh: string[]; logout: string[] }> = {
  camelcase: { login: ['token', 'refreshToken'], refresh: ['token'], logout: ['message'] },
  envelope: { login: ['refresh', 'access'], refresh: ['access'], logout: ['detail'] }
}

for (const [profile, shapes] of Object.entries(expected)) {
  t.test(`API_PROFILE=${profile}: docs/openapi-${profile}.yaml`, async (t) => {
    const { app } = await build(t, 'embedded', { API_PROFILE: profile })
    const doc = app.swagger() as Json
    const committed = await readFile(join(root, 'docs', `openapi-${profile}.yaml`), 'utf8')
    t.equal(committed, documentYaml(doc), `docs/openapi-${profile}.yaml is stale: run \`npm run openapi\` and commit it`)
    await t.resolves(SwaggerParser.validate(structuredClone(doc) as never), 'valid OpenAPI 3.1')
    t.match(doc.info.description, `**Profile \`${profile}\`.**`)

    const body = (path: string, status: string) => doc.paths[path].post.responses[status].content['application/json'].schema
    // Login answers the profile's shape, or the contract's mfa_required (a user with TOTP on).
    const login = body('/api/auth/login/', '200')
    t.same(login.anyOf?.[1], { $ref: '#/components/schemas/MfaRequired' })
    t.same(Object.keys(login.anyOf[0].properties), shapes.login)
    t.same(Object.keys(body('/api/auth/refresh/', '200').properties), shapes.refresh)
    t.same(Object.keys(body('/api/auth/logout/', '200').properties), shapes.logout)
    t.same(doc.paths['/api/auth/logout/'].post.security, [], 'logout needs no Bearer token')
    // The routes the profile does not list keep the contract's answers.
    t.match(JSON.stringify(body('/api/token/', '200')), /TokenPair|"access"/, '/api/token/ answers the contract\'s pair')

    // Every error of every route is the envelope, examples included.
    const errors: string[] = []
    for (const [path, item] of Object.entries(doc.paths as Json)) {
      for (const [method, op] of Object.entries(item as Json)) {
        for (const [status, response] of Object.entries((op as Json).responses ?? {})) {
          if (!STATUS_ONLY.test(status)) continue
          const media = (response as Json).content?.['application/json']
          if (!media) continue
          if (!media.schema?.properties?.error) errors.push(`${method} ${path} ${status}: not the envelope`)
          for (const [name, example] of Object.entries((media.examples ?? {}) as Json)) {
            if (Object.keys(example.value).join() !== 'error') errors.push(`${method} ${path} ${status} example ${name}`)
          }
        }
      }
    }
    t.same(errors, [], 'every documented error is {"error": ...}')

    // The contract check of the tests reads this document: a contract-shaped answer fails it.
    const contract = createContractCheck(doc)
    const answer = (status: number, body: unknown): Exchange =>
      ({ method: 'POST', url: '/api/auth/refresh/', status, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(body) })
    const own = profile === 'camelcase' ? { token: 'eyJ.a.b' } : { access: 'eyJ.a.b' }
    t.equal(contract.check(answer(200, own)), null, "the profile's answer passes")
    t.match(contract.check(answer(401, { detail: 'Token is invalid or expired', code: 'token_not_valid' })), /does not match/, "the contract's error body does not")
  })
}
