// Property-based: for every route of the OpenAPI document that takes a JSON body, bodies
// generated from its schema and then mutated (wrong types, hostile strings, missing and extra
// fields, other shapes) never get a 5xx, and every answer matches the document (the contract
// check the helper installs on every app fails the request otherwise). Bounded runs; on failure
// fast-check prints the seed and the shrunk body, to replay with { seed, path }.
import fc from 'fast-check'
import t from 'tap'
import { build, register } from '../helper.js'

type Schema = Record<string, any>

const RUNS = Number(process.env.FUZZ_RUNS ?? 40)

// Strings that have broken services: NUL, lone surrogates, pairs, RTL, combining marks, huge,
// JSON and SQL fragments, fullwidth and case-folding twins.
const hostile = fc.constantFrom(
  '', ' ', '\u0000', 'a\u0000', '\ud800', 'x\udfffy', '😀', '\u202e', 'e\u0301', 'ＡＤＭＩＮ', 'İ'.repeat(150), 'ß', 'ﬀ',
  '%00', "'; DROP TABLE users; --", '{"$ne": null}', '__proto__', 'constructor', '../../etc/passwd', 'a'.repeat(300), '\t\n', 'null'
)
const anyString = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), hostile)
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  anyString,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(anyString, { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), anyString, { maxKeys: 3 })
)

/** A value for a (resolved) schema: mostly what it asks for, hostile strings included. */
function valueOf (schema: Schema, resolve: (s: Schema) => Schema): fc.Arbitrary<unknown> {
  const s = resolve(schema)
  if (s.type === 'string') {
    const examples = (s.examples ?? []) as string[]
    return fc.oneof({ weight: 2, arbitrary: examples.length ? fc.constantFrom(...examples) : anyString }, { weight: 3, arbitrary: anyString })
  }
  if (s.type === 'boolean') return fc.boolean()
  if (s.type === 'integer' || s.type === 'number') return fc.integer()
  if (s.type === 'object') return bodyOf(s, resolve)
  return anyValue
}

function bodyOf (schema: Schema, resolve: (s: Schema) => Schema): fc.Arbitrary<unknown> {
  const props = Object.entries((schema.properties ?? {}) as Record<string, Schema>)
  const record = fc.record(Object.fromEntries(props.map(([k, v]) => [k, fc.oneof({ weight: 4, arbitrary: valueOf(v, resolve) }, { weight: 1, arbitrary: anyValue })])), {
    requiredKeys: []
  })
  const withExtra = fc.tuple(record, fc.dictionary(fc.string({ maxLength: 8 }), anyValue, { maxKeys: 2 })).map(([r, extra]) => ({ ...extra, ...r }))
  return fc.oneof({ weight: 6, arbitrary: withExtra }, { weight: 1, arbitrary: anyValue })
}

t.test('generated and mutated bodies: no 5xx on any route, every answer as documented', async (t) => {
  const { app } = await build(t, 'embedded')
  const user = await register(app)
  const doc = app.swagger() as Schema
  const resolve = (s: Schema): Schema => (typeof s?.$ref === 'string' ? resolve(doc.components.schemas[s.$ref.split('/').pop()!]) : s)
  const routes: Array<{ method: string; path: string; schema: Schema; bearer: boolean }> = []
  for (const [path, item] of Object.entries(doc.paths as Record<string, Schema>)) {
    for (const [method, op] of Object.entries(item)) {
      const schema = op.requestBody?.content?.['application/json']?.schema
      if (schema) routes.push({ method: method.toUpperCase(), path, schema: resolve(schema), bearer: Boolean(op.security?.length) })
    }
  }
  t.ok(routes.length >= 8, `${routes.length} routes take a body`)
  for (const route of routes) {
    await fc.assert(
      fc.asyncProperty(bodyOf(route.schema, resolve), async (body) => {
        const res = await app.inject({
          method: route.method as 'POST',
          url: route.path,
          headers: { 'content-type': 'application/json', ...(route.bearer ? { authorization: `Bearer ${user.access}` } : {}) },
          payload: JSON.stringify(body)
        })
        if (res.statusCode >= 500) throw new Error(`${route.method} ${route.path} answered ${res.statusCode} ${res.body}`)
      }),
      { numRuns: RUNS, verbose: 1 }
    )
    t.pass(`${route.method} ${route.path}: ${RUNS} bodies, no 5xx, all as documented`)
  }
})
