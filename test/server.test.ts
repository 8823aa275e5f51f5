// The process as users start it: configuration refusals, and a real socket.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../plugins/app/config/index.js'
import { startService as start } from './support/service.js'

t.test('production refuses a missing or weak JWT_SECRET', async (t) => {
  for (const [env, expected] of [
    [{}, /JWT_SECRET: required in production/],
    [{ JWT_SECRET: 'too-short' }, /JWT_SECRET: too short/]
  ] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'auth-prod-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const proc = start({ NODE_ENV: 'production', DATA_DIR: dir, PORT: '0', ...env })
    t.equal(await proc.exited, 1)
    t.match(proc.output(), expected)
    t.notMatch(proc.output(), /too-short/, 'the secret is never printed')
  }
})

t.test('outside the embedded default, a missing JWT_SECRET stops the process: instances must share the key', async (t) => {
  for (const env of [{ DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/postgres' }, { REDIS_URL: 'redis://127.0.0.1:6379' }] as Array<Record<string, string>>) {
    const dir = mkdtempSync(join(tmpdir(), 'auth-shared-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const proc = start({ DATA_DIR: dir, PORT: '0', ...env })
    t.equal(await proc.exited, 1, Object.keys(env)[0])
    t.match(proc.output(), /JWT_SECRET: required with DATABASE_URL or REDIS_URL.*same key/)
  }
  t.throws(() => loadConfig({ DATABASE_URL: 'postgresql://x@127.0.0.1/db' }), /JWT_SECRET/)
  const dir = mkdtempSync(join(tmpdir(), 'auth-dev-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  t.doesNotThrow(() => loadConfig({ DATA_DIR: dir }), 'the embedded default makes one')
})

t.test('a bad value names its variable', async (t) => {
  t.throws(() => loadConfig({ PORT: 'eighty' }), /PORT/)
  t.throws(() => loadConfig({ ACCESS_TOKEN_TTL: '0' }), /ACCESS_TOKEN_TTL/)
  t.throws(() => loadConfig({ BCRYPT_COST: '16' }), /BCRYPT_COST/)
  t.throws(() => loadConfig({ RATE_LIMIT_ENABLED: 'maybe' }), /RATE_LIMIT_ENABLED/)
  t.throws(() => loadConfig({ JWT_ALGORITHM: 'HS512' }), /JWT_ALGORITHM/)
  t.throws(() => loadConfig({ JWT_ALGORITHM: 'RS256' }), /JWT_PRIVATE_KEY/)
  t.throws(() => loadConfig({ JWT_PREVIOUS_KEYS: 'not json' }), /JWT_PREVIOUS_KEYS/)
  t.throws(() => loadConfig({ DEPENDENCY_TIMEOUT: '0' }), /DEPENDENCY_TIMEOUT/)
  t.throws(() => loadConfig({ REQUEST_TIMEOUT: 'soon' }), /REQUEST_TIMEOUT/)
  t.throws(() => loadConfig({ SHUTDOWN_TIMEOUT: '-1' }), /SHUTDOWN_TIMEOUT/)
})

t.test('outside production a secret is generated once and kept', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'auth-dev-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const a = loadConfig({ DATA_DIR: dir })
  const b = loadConfig({ DATA_DIR: dir })
  t.equal(a.jwt.signingKey, b.jwt.signingKey)
  t.ok(Buffer.byteLength(a.jwt.signingKey) >= 32)
  t.equal(readFileSync(join(dir, 'jwt-secret'), 'utf8').trim(), a.jwt.signingKey)
})

t.test('the server starts on embedded defaults, prints its URLs, serves a real socket, stops on SIGTERM, keeps tokens across a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'auth-srv-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const env = { DATA_DIR: dir, PORT: '0', BCRYPT_COST: '4', LOG_LEVEL: 'warn' }
  const proc = start(env)
  t.teardown(() => proc.child.kill('SIGKILL'))
  const base = await proc.listening()
  t.match(proc.output(), /API docs: http:\/\/\S+\/docs/)
  t.match(proc.output(), /sessions in the database/)
  const username = `sock_${process.pid}`
  const reg = await fetch(`${base}/api/auth/register/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, email: `${username}@example.com`, password: 'Str0ng-Passphrase!' })
  })
  t.equal(reg.status, 201)
  const { tokens } = (await reg.json()) as { tokens: { access: string; refresh: string } }
  const me = await fetch(`${base}/api/auth/me`, { headers: { authorization: `Bearer ${tokens.access}` } })
  t.equal(me.status, 200)
  t.equal(((await me.json()) as { username: string }).username, username)
  t.equal((await fetch(`${base}/health/ready`)).status, 200)
  proc.child.kill('SIGTERM')
  t.equal(await proc.exited, 0)

  // Same data folder: same secret, same users, same sessions.
  const again = start(env)
  t.teardown(() => again.child.kill('SIGKILL'))
  const base2 = await again.listening()
  const me2 = await fetch(`${base2}/api/auth/me/`, { headers: { authorization: `Bearer ${tokens.access}` } })
  t.equal(me2.status, 200, 'the access token survives the restart')
  const refreshed = await fetch(`${base2}/api/token/refresh/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh: tokens.refresh }) })
  t.equal(refreshed.status, 200, 'so does the refresh token')
  again.child.kill('SIGTERM')
  t.equal(await again.exited, 0)
})
