// The process as users start it: configuration refusals, and a real socket.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../plugins/app/config/index.js'
import { startService as start } from './support/service.js'
import { sparePort } from './support/servers.js'

// Production needs a mail server (password reset mails its link); the password in its URL is never printed.
const PROD_SMTP_URL = 'smtp://mailer:hunter2-smtp-password@127.0.0.1:2525'
const PROD_MFA_KEY = 'a-production-mfa-key-of-at-least-32-bytes'

t.test('production refuses a missing or weak JWT_SECRET or MFA_ENCRYPTION_KEY, and a missing SMTP_URL', async (t) => {
  const secret = 'a-production-secret-of-at-least-32-bytes'
  for (const [env, expected] of [
    [{}, /JWT_SECRET: required in production/],
    [{ JWT_SECRET: 'too-short' }, /JWT_SECRET: too short/],
    [{ JWT_SECRET: secret, SMTP_URL: '' }, /SMTP_URL: required in production \(password reset and e-mail verification send e-mail\)/],
    [{ JWT_SECRET: secret, MFA_ENCRYPTION_KEY: undefined }, /MFA_ENCRYPTION_KEY: required in production/],
    [{ JWT_SECRET: secret, MFA_ENCRYPTION_KEY: 'too-short' }, /MFA_ENCRYPTION_KEY: a key is too short/],
    [{ JWT_SECRET: secret, MFA_ENCRYPTION_KEY: `${PROD_MFA_KEY},too-short` }, /MFA_ENCRYPTION_KEY: a key is too short/]
  ] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'auth-prod-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    // An undefined setting is left out of the environment.
    const full = Object.entries({ NODE_ENV: 'production', DATA_DIR: dir, PORT: '0', SMTP_URL: PROD_SMTP_URL, MFA_ENCRYPTION_KEY: PROD_MFA_KEY, ...env })
    const proc = start(Object.fromEntries(full.filter((e): e is [string, string] => e[1] !== undefined)))
    t.equal(await proc.exited, 1)
    t.match(proc.output(), expected)
    t.notMatch(proc.output(), /too-short/, 'the secret is never printed')
    t.notMatch(proc.output(), /hunter2/, 'nor the SMTP password')
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

t.test('e-mail and password-reset settings: defaults, checks, the SMTP password never echoed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'auth-mail-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const c = loadConfig({ DATA_DIR: dir })
  t.same(c.email, {
    verification: 'optional',
    smtpUrl: null,
    from: 'no-reply@localhost',
    resetUrl: 'http://127.0.0.1:8000/account/reset/?uid={uid}&token={token}',
    verifyUrl: 'http://127.0.0.1:8000/account/verify/?key={key}',
    changeUrl: 'http://127.0.0.1:8000/account/email/?key={key}',
    resetTimeout: 3600,
    verifyTimeout: 259200,
    templatesDir: null
  })
  t.equal(c.timeouts.smtp, 10_000)
  t.equal(c.accountPages, true)
  // The links follow PUBLIC_URL, path prefix included; without the pages, the operator is told.
  const behind = loadConfig({ DATA_DIR: dir, PUBLIC_URL: 'https://example.com/auth/', ACCOUNT_PAGES: 'false' })
  t.equal(behind.email.resetUrl, 'https://example.com/auth/account/reset/?uid={uid}&token={token}')
  t.equal(behind.email.verifyUrl, 'https://example.com/auth/account/verify/?key={key}')
  t.equal(behind.email.changeUrl, 'https://example.com/auth/account/email/?key={key}')
  t.equal(behind.accountPages, false)
  t.match(behind.warnings, [/ACCOUNT_PAGES=false/])
  t.equal(c.rateLimit.passwordResetsPerEmail, 5)
  t.equal(c.rateLimit.passwordResetsPerIp, 30)

  const set = loadConfig({
    DATA_DIR: dir,
    EMAIL_VERIFICATION: 'mandatory',
    SMTP_URL: 'smtps://u:p@mail.example.com:465',
    EMAIL_FROM: 'Auth <auth@example.com>',
    PASSWORD_RESET_URL: 'https://app.example.com/r/{uid}/{token}',
    EMAIL_VERIFY_URL: 'https://app.example.com/v/{key}',
    EMAIL_CHANGE_URL: 'https://app.example.com/e/{key}',
    PASSWORD_RESET_TIMEOUT: '600',
    EMAIL_VERIFY_TIMEOUT: '86400',
    EMAIL_TEMPLATES_DIR: dir,
    SMTP_TIMEOUT: '2.5',
    PASSWORD_RESETS_PER_EMAIL: '2',
    PASSWORD_RESETS_PER_IP: '7'
  })
  t.same(set.email, {
    verification: 'mandatory',
    smtpUrl: 'smtps://u:p@mail.example.com:465',
    from: 'Auth <auth@example.com>',
    resetUrl: 'https://app.example.com/r/{uid}/{token}',
    verifyUrl: 'https://app.example.com/v/{key}',
    changeUrl: 'https://app.example.com/e/{key}',
    resetTimeout: 600,
    verifyTimeout: 86400,
    templatesDir: dir
  })
  t.equal(set.timeouts.smtp, 2500)
  t.same([set.rateLimit.passwordResetsPerEmail, set.rateLimit.passwordResetsPerIp], [2, 7])

  t.throws(() => loadConfig({ DATA_DIR: dir, EMAIL_VERIFICATION: 'always' }), /EMAIL_VERIFICATION/)
  t.throws(() => loadConfig({ DATA_DIR: dir, PASSWORD_RESET_URL: 'http://x/reset?uid={uid}' }), /PASSWORD_RESET_URL: must contain \{token\}/)
  t.throws(() => loadConfig({ DATA_DIR: dir, PASSWORD_RESET_URL: 'http://x/reset?token={token}' }), /PASSWORD_RESET_URL: must contain \{uid\}/)
  t.throws(() => loadConfig({ DATA_DIR: dir, PASSWORD_RESET_URL: 'reset/{uid}/{token}' }), /PASSWORD_RESET_URL: not a URL/)
  t.throws(() => loadConfig({ DATA_DIR: dir, EMAIL_VERIFY_URL: 'http://x/verify?k={token}' }), /EMAIL_VERIFY_URL: must contain \{key\}/)
  t.throws(() => loadConfig({ DATA_DIR: dir, PASSWORD_RESET_TIMEOUT: '0' }), /PASSWORD_RESET_TIMEOUT/)
  t.throws(() => loadConfig({ DATA_DIR: dir, EMAIL_VERIFY_TIMEOUT: 'soon' }), /EMAIL_VERIFY_TIMEOUT/)
  t.throws(() => loadConfig({ DATA_DIR: dir, PASSWORD_RESETS_PER_EMAIL: '0' }), /PASSWORD_RESETS_PER_EMAIL/)
  t.throws(() => loadConfig({ DATA_DIR: dir, PASSWORD_RESETS_PER_IP: 'many' }), /PASSWORD_RESETS_PER_IP/)
  t.throws(() => loadConfig({ DATA_DIR: dir, SMTP_TIMEOUT: '0' }), /SMTP_TIMEOUT/)
  t.throws(() => loadConfig({ DATA_DIR: dir, EMAIL_TEMPLATES_DIR: join(dir, 'missing') }), /EMAIL_TEMPLATES_DIR: not a folder/)

  // A bad SMTP_URL names the variable but shows its value as ***: it holds a password.
  let message = ''
  try {
    loadConfig({ DATA_DIR: dir, SMTP_URL: 'http://mailer:hunter2@mail.example.com' })
  } catch (err) {
    message = (err as Error).message
  }
  t.match(message, /SMTP_URL: .*\(got "\*\*\*"\)/)
  t.notMatch(message, /hunter2/)
  for (const url of ['smtp://', 'smtp://mailer:hunter2@host:port']) {
    let refused = ''
    try {
      loadConfig({ DATA_DIR: dir, SMTP_URL: url })
    } catch (err) {
      refused = (err as Error).message
    }
    t.match(refused, /^SMTP_URL: not a valid URL with a host/, url)
    t.notMatch(refused, /hunter2/)
  }

  t.throws(
    () => loadConfig({ NODE_ENV: 'production', DATA_DIR: dir, JWT_SECRET: 'a-production-secret-of-at-least-32-bytes' }),
    { name: 'ConfigError', message: 'SMTP_URL: required in production (password reset and e-mail verification send e-mail)' }
  )
  const prod = loadConfig({ NODE_ENV: 'production', DATA_DIR: dir, JWT_SECRET: 'a-production-secret-of-at-least-32-bytes', SMTP_URL: PROD_SMTP_URL, MFA_ENCRYPTION_KEY: PROD_MFA_KEY })
  t.equal(prod.email.smtpUrl, PROD_SMTP_URL)
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
  t.match(proc.output(), `Account:  ${base}/account/`, 'PORT=0: the port taken is the one PUBLIC_URL names')
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

t.test('Redis Cluster and Sentinel settings', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'auth-redis-config-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const base = { DATA_DIR: dir, JWT_SECRET: 'a-secret-of-at-least-32-bytes-for-the-tests' }

  const cluster = loadConfig({ ...base, REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis://10.0.0.2:7001,10.0.0.3' })
  t.same(cluster.redis, {
    kind: 'cluster',
    nodes: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7001 }, { host: '10.0.0.3', port: 6379 }],
    username: null,
    password: null,
    tls: false
  })
  t.equal(cluster.tokenStore, 'redis', 'a Cluster holds the sessions')
  t.equal(cluster.embedded, false)
  t.equal(cluster.redisWaitReplicas, 0)
  t.same(loadConfig({ ...base, REDIS_CLUSTER_NODES: 'rediss://app:s%40cret@[::1]:7000' }).redis, {
    kind: 'cluster',
    nodes: [{ host: '::1', port: 7000 }],
    username: 'app',
    password: 's@cret',
    tls: true
  })

  const sentinel = loadConfig({ ...base, REDIS_SENTINELS: 's1:26379,s2', REDIS_SENTINEL_NAME: 'mymaster' })
  t.same(sentinel.redis, {
    kind: 'sentinel',
    sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }],
    name: 'mymaster',
    username: null,
    password: null,
    tls: false
  })
  t.equal(sentinel.redisWaitReplicas, 1, 'a Sentinel set has replicas: writes wait for one')
  t.equal(loadConfig({ ...base, REDIS_SENTINELS: 's1', REDIS_SENTINEL_NAME: 'm', REDIS_WAIT_REPLICAS: '0' }).redisWaitReplicas, 0)
  t.equal(loadConfig({ ...base, REDIS_URL: 'redis://127.0.0.1:6379' }).redis?.kind, 'single')

  t.throws(() => loadConfig({ ...base, REDIS_URL: 'redis://a', REDIS_CLUSTER_NODES: 'b:1' }), /REDIS_URL, REDIS_CLUSTER_NODES: set only one of them/)
  t.throws(() => loadConfig({ ...base, REDIS_SENTINELS: 's1' }), /REDIS_SENTINEL_NAME: required with REDIS_SENTINELS/)
  t.throws(() => loadConfig({ ...base, REDIS_SENTINEL_NAME: 'm' }), /REDIS_SENTINEL_NAME: needs REDIS_SENTINELS/)
  t.throws(() => loadConfig({ ...base, REDIS_CLUSTER_NODES: 'http://a:1' }), /REDIS_CLUSTER_NODES: each entry must be host:port/)
  t.throws(() => loadConfig({ ...base, REDIS_CLUSTER_NODES: ' , ' }), /REDIS_CLUSTER_NODES: no server given/)
  t.throws(() => loadConfig({ ...base, REDIS_KEY_PREFIX: 'auth{x}:' }), /REDIS_KEY_PREFIX/, 'a brace would make one hash tag of every key')
  // Entries that disagree on credentials are refused without echoing them.
  let message = ''
  try {
    loadConfig({ ...base, REDIS_CLUSTER_NODES: 'redis://:hunter2@a:1,redis://:other@b:1' })
  } catch (err) {
    message = (err as Error).message
  }
  t.match(message, /REDIS_CLUSTER_NODES: every entry must have the same credentials/)
  t.notMatch(message, /hunter2/)
  message = ''
  try {
    loadConfig({ ...base, REDIS_WAIT_REPLICAS: 'x', REDIS_SENTINELS: 'redis://:hunter2@s:1' })
  } catch (err) {
    message = (err as Error).message
  }
  t.match(message, /REDIS_WAIT_REPLICAS/)
  t.notMatch(message, /hunter2/)
})

t.test('.env in the working directory is read at start; the environment wins over it; a malformed line stops the process', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'auth-dotenv-'))
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }))
  const [filePort, envPort] = [await sparePort(), await sparePort()]
  // DATA_DIR stays the default ./data, relative to that folder.
  writeFileSync(join(cwd, '.env'), `# as copied from .env.example\nPORT=${filePort}\nHOST=127.0.0.1\nLOG_LEVEL=warn\nBCRYPT_COST=4\n`)

  const fromFile = start({}, cwd)
  t.teardown(() => fromFile.child.kill('SIGKILL'))
  t.equal(await fromFile.listening(), `http://127.0.0.1:${filePort}`, 'PORT from .env')
  t.ok(fromFile.output().includes(`Settings: environment, then ${join(cwd, '.env')}`), 'it says where its settings came from')
  fromFile.child.kill('SIGTERM')
  t.equal(await fromFile.exited, 0)

  const fromEnv = start({ PORT: String(envPort) }, cwd)
  t.teardown(() => fromEnv.child.kill('SIGKILL'))
  t.equal(await fromEnv.listening(), `http://127.0.0.1:${envPort}`, 'PORT from the environment, not .env')
  fromEnv.child.kill('SIGTERM')
  t.equal(await fromEnv.exited, 0)

  // A line without "=" would otherwise be read with the next one as one name (Node 20's parser),
  // silently losing a setting: refused instead, by line number, its text never printed.
  writeFileSync(join(cwd, '.env'), `PORT=${filePort}\nJWT_SECRET hunter2-pasted-without-equals\nLOG_LEVEL=warn\n`)
  const malformed = start({}, cwd)
  t.teardown(() => malformed.child.kill('SIGKILL'))
  t.equal(await malformed.exited, 1)
  t.match(malformed.output(), /Configuration error: .*\.env line 2: not NAME=value/)
  t.notMatch(malformed.output(), /hunter2/)
})
