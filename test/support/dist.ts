// Lays project modules out as `tsc` does (dir/dist/<path>.js, ESM, no data files copied), so a
// test can run them with plain node (no loader) and check how they find the files beside them.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

export const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Transpiles each project-relative .ts file into dir/dist/ and marks dist/ as ESM. */
export function compileLikeTsc (dir: string, files: string[]): void {
  for (const file of files) {
    const out = join(dir, 'dist', file.replace(/\.ts$/, '.js'))
    const { outputText } = ts.transpileModule(readFileSync(join(projectRoot, file), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      fileName: file
    })
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, outputText)
  }
  writeFileSync(join(dir, 'dist', 'package.json'), '{"type":"module"}')
}
