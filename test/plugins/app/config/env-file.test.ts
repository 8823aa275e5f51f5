// The .env loader: Node's syntax, the environment first, a malformed line named by its number.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ConfigError, loadConfig, loadEnvFile } from '../../../../plugins/app/config/index.js'

function folderWith (t: Test, text?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'auth-env-file-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  if (text !== undefined) writeFileSync(join(dir, '.env'), text)
  return dir
}

t.test('no .env: nothing set, null', async (t) => {
  const env: NodeJS.ProcessEnv = {}
  t.equal(loadEnvFile(folderWith(t), env), null)
  t.same(env, {})
})

t.test('what the environment does not set comes from the file; the environment wins', async (t) => {
  const pem = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----'
  const dir = folderWith(t, [
    '# a comment',
    'PORT=8011',
    '',
    'export HOST=0.0.0.0',
    `JWT_PRIVATE_KEY="${pem}"`,
    "EMAIL_FROM='Auth <auth@example.com>'  # trailing comment",
    'LOG_LEVEL=debug'
  ].join('\n') + '\n')
  const env: NodeJS.ProcessEnv = { LOG_LEVEL: 'warn', PORT: '' }
  t.equal(loadEnvFile(dir, env), join(dir, '.env'))
  t.same(env, {
    LOG_LEVEL: 'warn',
    PORT: '',
    HOST: '0.0.0.0',
    JWT_PRIVATE_KEY: pem,
    EMAIL_FROM: 'Auth <auth@example.com>'
  }, 'a variable set in the environment, even empty, is kept; a multi-line quoted value is whole')
})

t.test('a line that is not NAME=value stops the load, by number, without its text', async (t) => {
  for (const [text, line] of [
    ['PORT=1\nJWT_SECRET hunter2\nHOST=x\n', 2],
    ['KEY="-----BEGIN\nhunter2 = inside the quotes is fine\n-----END"\n1BAD=hunter2\n', 4],
    ['\r\n# ok\r\nhunter2\r\n', 3]
  ] as const) {
    const env: NodeJS.ProcessEnv = {}
    let error: unknown
    try {
      loadEnvFile(folderWith(t, text), env)
    } catch (err) {
      error = err
    }
    t.ok(error instanceof ConfigError, JSON.stringify(text))
    t.match((error as Error).message, new RegExp(`\\.env line ${line}: not NAME=value`))
    t.notMatch((error as Error).message, /hunter2/)
    t.same(env, {}, 'and sets nothing')
  }
})

t.test('.env.example copied as .env, as it says, loads and is a valid configuration', async (t) => {
  const dir = folderWith(t, readFileSync(new URL('../../../../.env.example', import.meta.url), 'utf8'))
  const env: NodeJS.ProcessEnv = { DATA_DIR: dir }
  loadEnvFile(dir, env)
  t.equal(env.PORT, '8000')
  t.equal(loadConfig(env).port, 8000)
})
