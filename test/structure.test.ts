// The layout's one rule: imports go one way, src/ (the HTTP layer) -> plugins/app/ (the service's
// own plugins) -> plugins/external/ (thin wrappers of libraries). A file imports its own layer or
// a lower one, never a higher one, whether by a static or dynamic import, an export-from, or a
// module URL (worker threads are loaded by `new URL(..., import.meta.url)`).
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import ts from 'typescript'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
/** From the top layer to the bottom one. */
const LAYERS = ['src', join('plugins', 'app'), join('plugins', 'external')].map((dir) => join(root, dir) + sep)

/** .ts files below dir, the generated Prisma client left out. */
function sources (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return e.name === 'generated' || e.name === 'node_modules' ? [] : sources(path)
    return e.name.endsWith('.ts') ? [path] : []
  })
}

/** Every module a file names: imports, export-froms, dynamic imports, require, and module URLs. */
export function specifiers (text: string): string[] {
  const { importedFiles } = ts.preProcessFile(text, true, true)
  const urls = [...text.matchAll(/new URL\(\s*[`'"]([^`'"]+)[`'"]\s*,\s*import\.meta\.url/g)].map((m) => m[1]!)
  return [...importedFiles.map((f) => f.fileName), ...urls]
}

/** The index in LAYERS of the layer a path is in, or -1 outside them all (tests, scripts, packages). */
const layerOf = (path: string) => LAYERS.findIndex((dir) => (path + sep).startsWith(dir))

/** The specifiers of `file` (its text given) that resolve into a layer above its own. */
export function upwardImports (file: string, text: string): string[] {
  const own = layerOf(file)
  if (own <= 0) return []
  return specifiers(text).filter((s) => {
    if (!s.startsWith('.')) return false
    const target = layerOf(resolve(dirname(file), s))
    return target !== -1 && target < own
  })
}

t.test('imports go one way: src -> plugins/app -> plugins/external', async (t) => {
  const files = [...sources(join(root, 'src')), ...sources(join(root, 'plugins'))]
  t.ok(files.filter((f) => layerOf(f) === 2).length > 10, 'plugins/external files read')
  t.ok(files.filter((f) => layerOf(f) === 1).length > 20, 'plugins/app files read')
  const offenders = files.flatMap((f) => upwardImports(f, readFileSync(f, 'utf8')).map((s) => `${relative(root, f)}: ${s}`))
  t.same(offenders, [], 'each layer imports only itself, the layers below and packages')
})

t.test('the check sees every form of import', async (t) => {
  const forms = (up: string) => [
    `import { buildApp } from '${up}/app.js'`,
    `import type { Config } from '${up}/config.js'`,
    `export { x } from '${up}/schemas/routes.js'`,
    `import '${up}/side-effect.js'`,
    `const m = await import('${up}/routes/responses.js')`,
    `const w = new URL(\`${up}/worker.js\`, import.meta.url)`
  ]
  for (const line of forms('../../src')) t.equal(upwardImports(join(root, 'plugins', 'app', 'example.ts'), line).length, 1, `app: ${line}`)
  for (const line of forms('../app')) t.equal(upwardImports(join(root, 'plugins', 'external', 'example.ts'), line).length, 1, `external: ${line}`)
})

t.test('what each layer may not import, and what it may', async (t) => {
  const app = join(root, 'plugins', 'app', 'example.ts')
  const external = join(root, 'plugins', 'external', 'example.ts')
  const externalDeep = join(root, 'plugins', 'external', 'prisma', 'example.ts')
  const src = join(root, 'src', 'routes', 'example.ts')
  const refused: Array<[string, string]> = [
    [app, "import { buildApp } from '../../src/app.js'"],
    [external, "import { throttled } from '../app/errors.js'"],
    [external, "import type { RedisTarget } from '../app/config/index.js'"],
    [externalDeep, "import { foldUsername } from '../../app/usernames.js'"],
    [external, "import { buildApp } from '../../src/app.js'"],
    [externalDeep, "const m = await import('../../../src/routes/responses.js')"]
  ]
  for (const [file, line] of refused) t.equal(upwardImports(file, line).length, 1, `${relative(root, file)}: ${line}`)
  const allowed: Array<[string, string]> = [
    [app, "import x from './users.js'\nimport y from '../external/redis.js'\nimport z from 'fastify'"],
    [external, "import { masters } from './redis.js'\nimport { PrismaClient } from './prisma/index.js'"],
    [externalDeep, "import { throttledWarnings } from '../throttled-warnings.js'"],
    [src, "import x from '../../plugins/app/users.js'\nimport y from '../../plugins/external/redis.js'\nimport z from '../schemas/common.js'"],
    // Paths that only start like a layer are not that layer.
    [app, "import x from '../../srcs/x.js'"],
    [external, "import x from '../application/x.js'\nimport y from '../apps/x.js'"]
  ]
  for (const [file, text] of allowed) t.same(upwardImports(file, text), [], `${relative(root, file)}: ${text}`)
})

/** The source files of the project (tests aside): the app, plugins, scripts and the bench. */
const projectSources = () =>
  ['src', 'plugins', 'scripts', 'bench'].flatMap((dir) => sources(join(root, dir))).filter((f) => !f.endsWith('.test.ts'))

/** A file's lines past the limit: one idea per file keeps every room small. */
export const MAX_LINES = 300
export const overLong = (text: string) => text.split('\n').length - (text.endsWith('\n') ? 1 : 0) > MAX_LINES

t.test(`no source file is over ${MAX_LINES} lines`, async (t) => {
  const files = projectSources()
  t.ok(files.length > 60, `${files.length} source files read`)
  t.same(files.filter((f) => overLong(readFileSync(f, 'utf8'))).map((f) => relative(root, f)), [])
  t.ok(overLong('x\n'.repeat(MAX_LINES + 1)), 'the count sees a long file')
  t.notOk(overLong('x\n'.repeat(MAX_LINES)), 'and lets one at the limit pass')
})

/** Casts of a request part: the route's schema types them (TypeBox type provider), never a cast. */
export const requestCasts = (text: string) => [...text.matchAll(/\brequest\s*\.\s*(body|params|query)\s*\)?\s+as\b/g)].map((m) => m[0])

t.test('no handler casts request.body, params or query in src/routes', async (t) => {
  const files = sources(join(root, 'src', 'routes'))
  t.ok(files.length > 10, `${files.length} route files read`)
  t.same(files.flatMap((f) => requestCasts(readFileSync(f, 'utf8')).map((c) => `${relative(root, f)}: ${c}`)), [])
  t.equal(requestCasts('const b = request.body as { a: string }').length, 1, 'the check sees a cast of the body')
  t.equal(requestCasts('const { id } = (request.params) as X').length, 1, 'of the params in parentheses')
  t.equal(requestCasts('const q = request.query as never').length, 1, 'of the query')
  t.equal(requestCasts('const b: unknown = request.body').length, 0, 'and lets a typed read pass')
})
