// The process as users start it: configuration refusals, and a real socket.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../plugins/app/config/index.js'

const root = new URL('..', import.meta.url).pathname

function start(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, output: () => out, exited }
}

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

t.test('a bad value names its variable', async (t) => {
  t.throws(() => loadConfig({ PORT: 'eighty' }), /PORT/)
  t.throws(() => loadConfig({ ACCESS_TOKEN_TTL: '0' }), /ACCESS_TOKEN_TTL/)
  t.throws(() => loadConfig({ BCRYPT_COST: '16' }), /BCRYPT_COST/)
  t.throws(() => loadConfig({ RATE_LIMIT_ENABLED: 'maybe' }), /RATE_LIMIT_ENABLED/)
  t.throws(() => loadConfig({ JWT_ALGORITHM: 'HS512' }), /JWT_ALGORITHM/)
  t.throws(() => loadConfig({ JWT_ALGORITHM: 'RS256' }), /JWT_PRIVATE_KEY/)
  t.throws(() => loadConfig({ JWT_PREVIOUS_KEYS: 'not json' }), /JWT_PREVIOUS_KEYS/)
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

async function listening(proc: ReturnType<typeof start>): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /listening on (http:\/\/\S+)/.exec(proc.output())
      if (m) {
        clearInterval(timer)
        resolve(m[1]!)
      }
    }, 50)
    proc.exited.then((code) => {
      clearInterval(timer)
      reject(new Error(`exited ${code}: ${proc.output()}`))
    })
  })
}

t.test('the server starts on embedded defaults, prints its URLs, serves a real socket, stops on SIGTERM, keeps tokens across a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'auth-srv-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const env = { DATA_DIR: dir, PORT: '0', BCRYPT_COST: '4', LOG_LEVEL: 'warn' }
  const proc = start(env)
  t.teardown(() => proc.child.kill('SIGKILL'))
  const base = await listening(proc)
  t.match(proc.output(), /API docs: http:\/\/\S+\/docs/)
  t.match(proc.output(), /in-process token store/)
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
  const base2 = await listening(again)
  const me2 = await fetch(`${base2}/api/auth/me/`, { headers: { authorization: `Bearer ${tokens.access}` } })
  t.equal(me2.status, 200, 'the access token survives the restart')
  const refreshed = await fetch(`${base2}/api/token/refresh/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh: tokens.refresh }) })
  t.equal(refreshed.status, 200, 'so does the refresh token')
  again.child.kill('SIGTERM')
  t.equal(await again.exited, 0)
})
