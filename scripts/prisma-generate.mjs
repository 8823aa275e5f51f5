// Runs `prisma generate` without Prisma's native engines. npm here does not run install
// scripts and the engines cannot be downloaded; generate never executes the schema engine,
// it only checks that PRISMA_SCHEMA_ENGINE_BINARY names a file, so any executable will do.
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(join(root, 'package.json'))
const cli = join(dirname(require.resolve('prisma/package.json')), 'build', 'index.js')

const result = spawnSync(process.execPath, [cli, 'generate', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath,
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
    CHECKPOINT_DISABLE: '1'
  }
})
process.exit(result.status ?? 1)
