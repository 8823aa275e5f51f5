// Every setting is read and validated once, here. A bad value stops the process with a
// message that names the variable; nothing else in the code reads process.env.
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { isAbsolute, join, resolve } from 'node:path'
import Type, { type Static } from 'typebox'
import Value from 'typebox/value'

const Bool = Type.Union([Type.Literal('true'), Type.Literal('false'), Type.Literal('1'), Type.Literal('0')])
const Seconds = (def: number, minimum = 1) => Type.Integer({ minimum, default: def })

export const EnvSchema = Type.Object({
  NODE_ENV: Type.String({ default: 'development' }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8000 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' }
  ),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  DATA_DIR: Type.String({ minLength: 1, default: './data' }),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  // Comma-separated host:port or redis[s]://[user:password@]host:port entries.
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({ minLength: 1 })),
  REDIS_SENTINELS: Type.Optional(Type.String({ minLength: 1 })),
  REDIS_SENTINEL_NAME: Type.Optional(Type.String({ minLength: 1 })),
  REDIS_WAIT_REPLICAS: Type.Optional(Type.Integer({ minimum: 0, maximum: 16 })),
  // No braces: a brace in the prefix would become the hash tag of every key (one slot for all).
  REDIS_KEY_PREFIX: Type.String({ default: 'auth:', pattern: '^[^{}]*$' }),
  TOKEN_STORE: Type.Optional(Type.Union([Type.Literal('redis'), Type.Literal('database')])),
  DEPENDENCY_TIMEOUT: Type.Number({ exclusiveMinimum: 0, maximum: 60, default: 1 }),
  REQUEST_TIMEOUT: Type.Number({ exclusiveMinimum: 0, maximum: 3600, default: 30 }),
  SHUTDOWN_TIMEOUT: Type.Number({ exclusiveMinimum: 0, maximum: 3600, default: 10 }),

  JWT_ALGORITHM: Type.Union(['HS256', 'RS256', 'ES256', 'EdDSA'].map((a) => Type.Literal(a)), { default: 'HS256' }),
  JWT_SECRET: Type.Optional(Type.String()),
  JWT_PRIVATE_KEY: Type.Optional(Type.String()),
  JWT_PUBLIC_KEY: Type.Optional(Type.String()),
  JWT_KEY_ID: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  // Old verification keys kept during a key rotation: a JSON object {"kid": "secret or PEM"}.
  JWT_PREVIOUS_KEYS: Type.Optional(Type.String()),
  JWT_ISSUER: Type.Optional(Type.String({ minLength: 1 })),
  JWT_AUDIENCE: Type.Optional(Type.String({ minLength: 1 })),

  ACCESS_TOKEN_TTL: Seconds(300),
  REFRESH_TOKEN_TTL: Seconds(86400),
  SESSION_MAX_AGE: Seconds(2592000),
  REFRESH_REUSE_INTERVAL: Seconds(10, 0),

  BCRYPT_COST: Type.Integer({ minimum: 4, maximum: 15, default: 12 }),
  PASSWORD_WORKERS: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),

  RATE_LIMIT_ENABLED: { ...Bool, default: 'true' },
  LOGIN_FAILURES_PER_USER_IP: Type.Integer({ minimum: 1, default: 5 }),
  LOGIN_FAILURES_PER_ACCOUNT: Type.Integer({ minimum: 1, default: 100 }),
  LOGIN_ATTEMPTS_PER_IP: Type.Integer({ minimum: 1, default: 30 }),
  REGISTRATIONS_PER_IP: Type.Integer({ minimum: 1, default: 10 }),
  REFRESHES_PER_SESSION: Type.Integer({ minimum: 1, default: 60 }),
  PASSWORD_RESETS_PER_EMAIL: Type.Integer({ minimum: 1, default: 5 }),
  PASSWORD_RESETS_PER_IP: Type.Integer({ minimum: 1, default: 30 }),
  TRUST_PROXY: Type.Optional(Type.String()),
  CORS_ORIGINS: Type.Optional(Type.String()),

  EMAIL_VERIFICATION: Type.Union(['none', 'optional', 'mandatory'].map((v) => Type.Literal(v)), { default: 'optional' }),
  SMTP_URL: Type.Optional(Type.String({ pattern: '^smtps?://' })),
  SMTP_TIMEOUT: Type.Number({ exclusiveMinimum: 0, maximum: 600, default: 10 }),
  EMAIL_FROM: Type.String({ minLength: 1, default: 'no-reply@localhost' }),
  PASSWORD_RESET_URL: Type.String({ minLength: 1, default: 'http://localhost:3000/reset?uid={uid}&token={token}' }),
  EMAIL_VERIFY_URL: Type.String({ minLength: 1, default: 'http://localhost:3000/verify?key={key}' }),
  PASSWORD_RESET_TIMEOUT: Seconds(3600),
  EMAIL_VERIFY_TIMEOUT: Seconds(259200),
  EMAIL_TEMPLATES_DIR: Type.Optional(Type.String({ minLength: 1 })),

  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  METRICS_ALLOW: Type.String({ default: '127.0.0.1,::1' })
})
export type Env = Static<typeof EnvSchema>

/** A Redis server as the settings name it. */
export interface RedisNode {
  host: string
  port: number
}

/** Which Redis the service uses (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS). */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | { kind: 'cluster'; nodes: RedisNode[]; username: string | null; password: string | null; tls: boolean }
  | { kind: 'sentinel'; sentinels: RedisNode[]; name: string; username: string | null; password: string | null; tls: boolean }

export type JwtAlgorithm = 'HS256' | 'RS256' | 'ES256' | 'EdDSA'
export type EmailVerification = 'none' | 'optional' | 'mandatory'

export interface Config {
  env: string
  production: boolean
  port: number
  host: string
  logLevel: string
  databaseUrl: string | null
  dataDir: string
  /** REDIS_URL (a single Redis); null with a Cluster or a Sentinel (see `redis`). */
  redisUrl: string | null
  /** The Redis of the token store and the rate limits, null when none is configured. */
  redis: RedisTarget | null
  redisKeyPrefix: string
  /**
   * Token-store writes are acknowledged only once this many replicas have them (WAIT), else the
   * request is a 503: a failover then cannot lose a rotation or a revocation that was answered.
   */
  redisWaitReplicas: number
  /** Where sessions live: Redis (shared, fast) or the database (no Redis needed). */
  tokenStore: 'redis' | 'database'
  /** No Redis and no DATABASE_URL: PGlite in DATA_DIR, one instance, a generated dev secret. */
  embedded: boolean
  timeouts: {
    /** The longest wait on the database or Redis before a 503, ms. */
    dependency: number
    /** A request whose body has not fully arrived by then is answered 408, ms. */
    request: number
    /** How long a SIGTERM drains requests in flight before the process exits anyway, ms. */
    shutdown: number
    /** SMTP connect, greeting and socket inactivity; also the longest wait for mail at shutdown, ms. */
    smtp: number
  }
  jwt: {
    algorithm: JwtAlgorithm
    /** HS256: the shared secret. Others: the PEM private key. */
    signingKey: string
    /** HS256: the same secret. Others: the PEM public key. */
    verifyKey: string
    kid: string
    /** Keys accepted for verification only, by kid (rotation). */
    previousKeys: Record<string, string>
    issuer: string | null
    audience: string | null
  }
  accessTokenTtl: number
  refreshTokenTtl: number
  sessionMaxAge: number
  refreshReuseInterval: number
  bcryptCost: number
  passwordWorkers: number | null
  rateLimit: {
    enabled: boolean
    loginFailuresPerUserIp: number
    loginFailuresPerAccount: number
    loginAttemptsPerIp: number
    registrationsPerIp: number
    refreshesPerSession: number
    /** Password reset requests per email address per hour. */
    passwordResetsPerEmail: number
    /** Password reset requests per IP per hour. */
    passwordResetsPerIp: number
  }
  trustProxy: boolean | string | string[] | number
  /** Browser origins allowed to call the API (CORS); empty: no CORS headers. */
  corsOrigins: string[]
  email: {
    /** none: no verification e-mail; optional: sent at register; mandatory: and login waits for it. */
    verification: EmailVerification
    /** smtp:// or smtps:// with the credentials (never log it); null: .eml files in DATA_DIR/mail (not in production). */
    smtpUrl: string | null
    from: string
    /** The reset link, with {uid} and {token} to fill in. */
    resetUrl: string
    /** The verification link, with {key} to fill in. */
    verifyUrl: string
    /** Lifetime of a reset link, seconds. */
    resetTimeout: number
    /** Lifetime of a verification link, seconds. */
    verifyTimeout: number
    /** A folder whose files replace the default templates of the same name; null: the defaults. */
    templatesDir: string | null
  }
  metrics: {
    /** /metrics on a port of its own (every address may scrape it there; 0: any free one); null: on the main port. */
    port: number | null
    /** On the main port, the client addresses (IPs or CIDR ranges) that may read /metrics. */
    allow: string[]
  }
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

const MIN_SECRET_BYTES = 32

/** URLs that may carry a password (smtp://user:pass@host). */
const CREDENTIAL_URLS = new Set(['SMTP_URL', 'DATABASE_URL', 'REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'])
/** Variables whose values are never echoed in an error: keys, secrets, URLs with credentials. */
const isSensitive = (name: string) => name.includes('SECRET') || name.includes('KEY') || CREDENTIAL_URLS.has(name)

/** A link template: a URL with every placeholder it needs. */
function linkTemplate(name: string, value: string, placeholders: string[]): string {
  if (!URL.canParse(value)) throw new ConfigError(`${name}: not a URL (got ${JSON.stringify(value)})`)
  const missing = placeholders.filter((p) => !value.includes(`{${p}}`))
  if (missing.length > 0) {
    throw new ConfigError(`${name}: must contain ${missing.map((p) => `{${p}}`).join(' and ')} (got ${JSON.stringify(value)})`)
  }
  return value
}

function readKeyMaterial(name: string, value: string): string {
  // A PEM can be given inline (with literal \n) or as a path to a file.
  if (value.includes('-----BEGIN')) return value.replace(/\\n/g, '\n')
  try {
    return readFileSync(value, 'utf8')
  } catch {
    throw new ConfigError(`${name}: not a PEM key and not a readable file`)
  }
}

function devSecret(dataDir: string): string {
  // Outside production a secret is generated once and kept, so restarts keep tokens valid.
  const file = join(dataDir, 'jwt-secret')
  try {
    const existing = readFileSync(file, 'utf8').trim()
    if (Buffer.byteLength(existing) >= MIN_SECRET_BYTES) return existing
  } catch {}
  mkdirSync(dataDir, { recursive: true })
  const secret = randomBytes(48).toString('base64url')
  writeFileSync(file, secret + '\n', { mode: 0o600 })
  return secret
}

/**
 * REDIS_CLUSTER_NODES / REDIS_SENTINELS: `host:port` or `redis[s]://[user:password@]host:port`
 * entries separated by commas. Credentials and TLS apply to every server (one deployment), so
 * entries that disagree are refused. Values are never echoed: they may hold a password.
 */
function parseRedisNodes(name: string, value: string) {
  const nodes: RedisNode[] = []
  let auth: { username: string | null; password: string | null; tls: boolean } | null = null
  for (const entry of value.split(',').map((e) => e.trim()).filter(Boolean)) {
    const withScheme = /^[a-z]+:\/\//i.test(entry) ? entry : `redis://${entry}`
    const url = URL.canParse(withScheme) ? new URL(withScheme) : null
    if (!url || !/^rediss?:$/.test(url.protocol) || !url.hostname || (url.pathname !== '' && url.pathname !== '/')) {
      throw new ConfigError(`${name}: each entry must be host:port or redis[s]://[user:password@]host:port`)
    }
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
    nodes.push({ host, port: url.port ? Number(url.port) : name === 'REDIS_SENTINELS' ? 26379 : 6379 })
    const these = {
      username: url.username ? decodeURIComponent(url.username) : null,
      password: url.password ? decodeURIComponent(url.password) : null,
      tls: url.protocol === 'rediss:'
    }
    if (auth && (auth.username !== these.username || auth.password !== these.password || auth.tls !== these.tls)) {
      throw new ConfigError(`${name}: every entry must have the same credentials and scheme`)
    }
    auth = these
  }
  if (!auth) throw new ConfigError(`${name}: no server given`)
  return { nodes, ...auth }
}

function redisTarget(env: Env): RedisTarget | null {
  const given = (['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'] as const).filter((k) => env[k] !== undefined)
  if (given.length > 1) throw new ConfigError(`${given.join(', ')}: set only one of them (a single Redis, a Cluster or a Sentinel)`)
  if (env.REDIS_SENTINEL_NAME !== undefined && env.REDIS_SENTINELS === undefined) {
    throw new ConfigError('REDIS_SENTINEL_NAME: needs REDIS_SENTINELS')
  }
  if (env.REDIS_URL) return { kind: 'single', url: env.REDIS_URL }
  if (env.REDIS_CLUSTER_NODES) {
    const { nodes, ...auth } = parseRedisNodes('REDIS_CLUSTER_NODES', env.REDIS_CLUSTER_NODES)
    return { kind: 'cluster', nodes, ...auth }
  }
  if (env.REDIS_SENTINELS) {
    if (!env.REDIS_SENTINEL_NAME) throw new ConfigError('REDIS_SENTINEL_NAME: required with REDIS_SENTINELS (the master\'s name, e.g. mymaster)')
    const { nodes, ...auth } = parseRedisNodes('REDIS_SENTINELS', env.REDIS_SENTINELS)
    return { kind: 'sentinel', sentinels: nodes, name: env.REDIS_SENTINEL_NAME, ...auth }
  }
  return null
}

/** METRICS_ALLOW: addresses and CIDR ranges, IPv4 or IPv6. */
function parseAllowList(value: string): string[] {
  const entries = value.split(',').map((e) => e.trim()).filter(Boolean)
  for (const entry of entries) {
    const [address, bits, ...rest] = entry.split('/')
    const family = isIP(address ?? '')
    const max = family === 4 ? 32 : 128
    if (family === 0 || rest.length > 0 || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= max))) {
      throw new ConfigError(`METRICS_ALLOW: not an IP address or CIDR range: ${JSON.stringify(entry)}`)
    }
  }
  return entries
}

function parseTrustProxy(value: string | undefined): Config['trustProxy'] {
  if (value === undefined || value === '' || value === 'false') return false
  if (value === 'true') return true
  if (/^\d+$/.test(value)) return Number(value)
  return value.split(',').map((s) => s.trim()).filter(Boolean)
}

/** Reads and validates the environment. Throws ConfigError naming the variable. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const raw: Record<string, unknown> = {}
  for (const key of Object.keys(EnvSchema.properties)) {
    const v = source[key]
    if (v !== undefined && v !== '') raw[key] = v
  }
  const converted = Value.Convert(EnvSchema, Value.Default(EnvSchema, raw))
  const errors = [...Value.Errors(EnvSchema, converted)]
  if (errors.length > 0) {
    const lines = errors.map((e) => {
      const name = e.instancePath.replace(/^\//, '') || String((e.params as { requiredProperties?: string[] })?.requiredProperties ?? '')
      const got = source[name]
      return `${name}: ${e.message}${got !== undefined ? ` (got ${JSON.stringify(isSensitive(name) ? '***' : got)})` : ''}`
    })
    throw new ConfigError(`invalid configuration:\n  ${[...new Set(lines)].join('\n  ')}`)
  }
  const env = converted as Env
  const production = env.NODE_ENV === 'production'
  const dataDir = isAbsolute(env.DATA_DIR) ? env.DATA_DIR : resolve(env.DATA_DIR)
  const redis = redisTarget(env)
  const tokenStore = env.TOKEN_STORE ?? (redis ? 'redis' : 'database')
  if (tokenStore === 'redis' && !redis) throw new ConfigError('TOKEN_STORE: "redis" needs REDIS_URL (or REDIS_CLUSTER_NODES, REDIS_SENTINELS)')
  const embedded = !env.DATABASE_URL && !redis

  let signingKey: string
  let verifyKey: string
  if (env.JWT_ALGORITHM === 'HS256') {
    if (env.JWT_SECRET === undefined) {
      if (production) throw new ConfigError('JWT_SECRET: required in production (at least 32 bytes)')
      // Instances that share a database or Redis must share the key: each would invent its own
      // and refuse the others' tokens. Only the single-instance embedded default may make one.
      if (!embedded) {
        throw new ConfigError(
          'JWT_SECRET: required with DATABASE_URL or REDIS_URL (at least 32 bytes): instances sharing a store must sign with the same key'
        )
      }
      signingKey = devSecret(dataDir)
    } else {
      if (Buffer.byteLength(env.JWT_SECRET) < MIN_SECRET_BYTES) {
        throw new ConfigError(`JWT_SECRET: too short, at least ${MIN_SECRET_BYTES} bytes are needed`)
      }
      signingKey = env.JWT_SECRET
    }
    verifyKey = signingKey
  } else {
    if (!env.JWT_PRIVATE_KEY || !env.JWT_PUBLIC_KEY) {
      throw new ConfigError(`JWT_PRIVATE_KEY and JWT_PUBLIC_KEY: both required with JWT_ALGORITHM=${env.JWT_ALGORITHM}`)
    }
    signingKey = readKeyMaterial('JWT_PRIVATE_KEY', env.JWT_PRIVATE_KEY)
    verifyKey = readKeyMaterial('JWT_PUBLIC_KEY', env.JWT_PUBLIC_KEY)
  }

  let previousKeys: Record<string, string> = {}
  if (env.JWT_PREVIOUS_KEYS) {
    try {
      const parsed = JSON.parse(env.JWT_PREVIOUS_KEYS) as unknown
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error()
      for (const [kid, key] of Object.entries(parsed)) {
        if (typeof key !== 'string' || key === '') throw new Error()
        previousKeys[kid] = env.JWT_ALGORITHM === 'HS256' ? key : readKeyMaterial(`JWT_PREVIOUS_KEYS.${kid}`, key)
      }
    } catch (err) {
      if (err instanceof ConfigError) throw err
      throw new ConfigError('JWT_PREVIOUS_KEYS: must be a JSON object {"kid": "secret or PEM public key"}')
    }
  }

  // Password reset is always on and mails its link: production needs a real mail server.
  if (production && !env.SMTP_URL) {
    throw new ConfigError('SMTP_URL: required in production (password reset and e-mail verification send e-mail)')
  }
  // Checked here, not at the first e-mail; the value is not echoed (it holds a password).
  if (env.SMTP_URL && !(URL.canParse(env.SMTP_URL) && new URL(env.SMTP_URL).hostname)) {
    throw new ConfigError('SMTP_URL: not a valid URL with a host (characters such as @ : / in the user or password must be percent-encoded)')
  }
  const resetUrl = linkTemplate('PASSWORD_RESET_URL', env.PASSWORD_RESET_URL, ['uid', 'token'])
  const verifyUrl = linkTemplate('EMAIL_VERIFY_URL', env.EMAIL_VERIFY_URL, ['key'])
  let templatesDir: string | null = null
  if (env.EMAIL_TEMPLATES_DIR) {
    templatesDir = resolve(env.EMAIL_TEMPLATES_DIR)
    let isDir = false
    try {
      isDir = statSync(templatesDir).isDirectory()
    } catch {}
    if (!isDir) throw new ConfigError(`EMAIL_TEMPLATES_DIR: not a folder (${templatesDir})`)
  }

  return {
    env: env.NODE_ENV,
    production,
    port: env.PORT,
    host: env.HOST,
    logLevel: env.LOG_LEVEL,
    databaseUrl: env.DATABASE_URL ?? null,
    dataDir,
    redisUrl: env.REDIS_URL ?? null,
    redis,
    redisKeyPrefix: env.REDIS_KEY_PREFIX,
    // A Sentinel deployment has replicas by definition: its writes wait for one by default.
    redisWaitReplicas: env.REDIS_WAIT_REPLICAS ?? (redis?.kind === 'sentinel' ? 1 : 0),
    tokenStore,
    embedded,
    timeouts: {
      dependency: Math.round(env.DEPENDENCY_TIMEOUT * 1000),
      request: Math.round(env.REQUEST_TIMEOUT * 1000),
      shutdown: Math.round(env.SHUTDOWN_TIMEOUT * 1000),
      smtp: Math.round(env.SMTP_TIMEOUT * 1000)
    },
    jwt: {
      algorithm: env.JWT_ALGORITHM as JwtAlgorithm,
      signingKey,
      verifyKey,
      kid: env.JWT_KEY_ID ?? '',
      previousKeys,
      issuer: env.JWT_ISSUER ?? null,
      audience: env.JWT_AUDIENCE ?? null
    },
    accessTokenTtl: env.ACCESS_TOKEN_TTL,
    refreshTokenTtl: env.REFRESH_TOKEN_TTL,
    sessionMaxAge: env.SESSION_MAX_AGE,
    refreshReuseInterval: env.REFRESH_REUSE_INTERVAL,
    bcryptCost: env.BCRYPT_COST,
    passwordWorkers: env.PASSWORD_WORKERS ?? null,
    rateLimit: {
      enabled: env.RATE_LIMIT_ENABLED === 'true' || env.RATE_LIMIT_ENABLED === '1',
      loginFailuresPerUserIp: env.LOGIN_FAILURES_PER_USER_IP,
      loginFailuresPerAccount: env.LOGIN_FAILURES_PER_ACCOUNT,
      loginAttemptsPerIp: env.LOGIN_ATTEMPTS_PER_IP,
      registrationsPerIp: env.REGISTRATIONS_PER_IP,
      refreshesPerSession: env.REFRESHES_PER_SESSION,
      passwordResetsPerEmail: env.PASSWORD_RESETS_PER_EMAIL,
      passwordResetsPerIp: env.PASSWORD_RESETS_PER_IP
    },
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    corsOrigins: (env.CORS_ORIGINS ?? '').split(',').map((o) => o.trim()).filter(Boolean),
    email: {
      verification: env.EMAIL_VERIFICATION as EmailVerification,
      smtpUrl: env.SMTP_URL ?? null,
      from: env.EMAIL_FROM,
      resetUrl,
      verifyUrl,
      resetTimeout: env.PASSWORD_RESET_TIMEOUT,
      verifyTimeout: env.EMAIL_VERIFY_TIMEOUT,
      templatesDir
    },
    metrics: {
      port: env.METRICS_PORT ?? null,
      allow: parseAllowList(env.METRICS_ALLOW)
    }
  }
}
