// Writes the OpenAPI documents from the app's own (the one GET /openapi.json serves), so they are
// never edited by hand: openapi.yaml at the repository root for the contract (API_PROFILE
// simplejwt), and docs/openapi-<profile>.yaml for each compatibility profile. `--check` writes
// nothing and exits 1 when a committed file differs (CI; test/openapi.test.ts checks the same).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { buildApp } from '../src/app.js'
import { loadConfig, type ApiProfile } from '../plugins/app/config/index.js'
import { documentYaml } from './openapi-yaml.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
/** Where each profile's document is committed. */
const DOCUMENTS: Record<ApiProfile, string> = {
  simplejwt: 'openapi.yaml',
  camelcase: 'docs/openapi-camelcase.yaml',
  envelope: 'docs/openapi-envelope.yaml'
}
const check = process.argv.includes('--check')

// The document depends on the routes only: a throwaway embedded app (temporary data folder,
// in-process token store) builds it without touching any real database or Redis.
async function documentOf (profile: ApiProfile): Promise<string> {
  const dataDir = await mkdtemp(join(tmpdir(), 'openapi-'))
  const app = await buildApp(
    loadConfig({
      NODE_ENV: 'development',
      LOG_LEVEL: 'error',
      DATA_DIR: dataDir,
      JWT_SECRET: randomBytes(32).toString('base64url'),
      PASSWORD_WORKERS: '1',
      API_PROFILE: profile
    })
  )
  try {
    return documentYaml(app.swagger())
  } finally {
    await app.close()
    await rm(dataDir, { recursive: true, force: true })
  }
}

let stale = false
for (const [profile, file] of Object.entries(DOCUMENTS) as Array<[ApiProfile, string]>) {
  const yaml = await documentOf(profile)
  const target = join(root, file)
  if (check) {
    if ((await readFile(target, 'utf8').catch(() => '')) !== yaml) {
      console.error(`${file} differs from the document the app generates under API_PROFILE=${profile}: run \`npm run openapi\` and commit it.`)
      stale = true
    }
  } else {
    await writeFile(target, yaml)
    console.log(`wrote ${target}`)
  }
}
if (check) {
  if (stale) process.exit(1)
  console.log('the OpenAPI documents are up to date')
}
