// The layout's one rule: imports go one way. src/ (the HTTP layer) uses plugins/; nothing under
// plugins/ imports src/, whether by a static or dynamic import, an export-from, or a module URL
// (worker threads are loaded by `new URL(..., import.meta.url)`).
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import ts from 'typescript'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const SRC = join(root, 'src') + sep

/** .ts files below dir, the generated Prisma client left out. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return e.name === 'generated' || e.name === 'node_modules' ? [] : sources(path)
    return e.name.endsWith('.ts') ? [path] : []
  })
}

/** Every module a file names: imports, export-froms, dynamic imports, require, and module URLs. */
export function specifiers(text: string): string[] {
  const { importedFiles } = ts.preProcessFile(text, true, true)
  const urls = [...text.matchAll(/new URL\(\s*[`'"]([^`'"]+)[`'"]\s*,\s*import\.meta\.url/g)].map((m) => m[1]!)
  return [...importedFiles.map((f) => f.fileName), ...urls]
}

/** The specifiers of `file` (its text given) that resolve into src/. */
export function importsOfSrc(file: string, text: string): string[] {
  return specifiers(text).filter((s) => s.startsWith('.') && (resolve(dirname(file), s) + sep).startsWith(SRC))
}

t.test('nothing under plugins/ imports src/', async (t) => {
  const files = sources(join(root, 'plugins'))
  t.ok(files.length > 20, `${files.length} plugin files read`)
  const offenders = files.flatMap((f) => importsOfSrc(f, readFileSync(f, 'utf8')).map((s) => `${relative(root, f)}: ${s}`))
  t.same(offenders, [], 'plugins import only plugins and packages')
})

t.test('the check sees every form of import', async (t) => {
  const file = join(root, 'plugins', 'app', 'example.ts')
  const cases = [
    "import { buildApp } from '../../src/app.js'",
    "import type { Config } from '../../src/config.js'",
    "export { x } from '../../src/schemas/routes.js'",
    "import '../../src/side-effect.js'",
    "const m = await import('../../src/routes/responses.js')",
    "const w = new URL(`../../src/worker.js`, import.meta.url)"
  ]
  for (const line of cases) t.equal(importsOfSrc(file, line).length, 1, line)
  t.same(importsOfSrc(file, "import x from './users.js'\nimport y from '../external/redis.js'\nimport z from 'fastify'"), [])
  // A path that only starts like src/ is not src/.
  t.same(importsOfSrc(file, "import x from '../../srcs/x.js'"), [])
})
