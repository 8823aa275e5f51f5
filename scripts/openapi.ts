// Writes openapi.yaml at the repository root from the app's own document (the same one GET
// /openapi.json serves), so the file is never edited by hand. `--check` writes nothing and exits
// 1 when the committed file differs (CI; test/openapi.test.ts checks the same).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../plugins/app/config/index.js'
import { documentYaml } from './openapi-yaml.js'

const target = join(dirname(fileURLToPath(import.meta.url)), '..', 'openapi.yaml')
const check = process.argv.includes('--check')

// The document depends on the routes only: a throwaway embedded app (temporary data folder,
// in-process token store) builds it without touching any real database or Redis.
const dataDir = await mkdtemp(join(tmpdir(), 'openapi-'))
const app = await buildApp(
  loadConfig({
    NODE_ENV: 'development',
    LOG_LEVEL: 'error',
    DATA_DIR: dataDir,
    JWT_SECRET: randomBytes(32).toString('base64url'),
    PASSWORD_WORKERS: '1'
  })
)
let yaml: string
try {
  yaml = documentYaml(app.swagger())
} finally {
  await app.close()
  await rm(dataDir, { recursive: true, force: true })
}

if (check) {
  const committed = await readFile(target, 'utf8').catch(() => '')
  if (committed !== yaml) {
    console.error('openapi.yaml differs from the document the app generates: run `npm run openapi` and commit it.')
    process.exit(1)
  }
  console.log('openapi.yaml is up to date')
} else {
  await writeFile(target, yaml)
  console.log(`wrote ${target}`)
}
