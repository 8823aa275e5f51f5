// Every setting is read and validated once, here. A bad value stops the process with a
// message that names the variable; nothing else in the code reads process.env. The parts:
// env.ts (the variables), types.ts (the Config made of them), redis-target.ts, jwt-keys.ts.
import { statSync } from 'node:fs'
import { isIP } from 'node:net'
import { isAbsolute, resolve } from 'node:path'
import Value from 'typebox/value'
import { ConfigError } from './config-error.js'
import { EnvSchema, type Env } from './env.js'
import { jwtKeys } from './jwt-keys.js'
import { mfaConfig } from './mfa.js'
import { notifyConfig } from './notify.js'
import { redisTarget } from './redis-target.js'
import type { ApiProfile, Config, EmailVerification, JwtAlgorithm } from './types.js'
import { webConfig } from './web.js'

/** URLs that may carry a password (smtp://user:pass@host). */
const CREDENTIAL_URLS = new Set(['SMTP_URL', 'DATABASE_URL', 'REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'])
/** Variables whose values are never echoed in an error: keys, secrets, URLs with credentials. */
const isSensitive = (name: string) => name.includes('SECRET') || name.includes('KEY') || CREDENTIAL_URLS.has(name)

/** A link template: a URL with every placeholder it needs. */
function linkTemplate (name: string, value: string, placeholders: string[]): string {
  if (!URL.canParse(value)) throw new ConfigError(`${name}: not a URL (got ${JSON.stringify(value)})`)
  const missing = placeholders.filter((p) => !value.includes(`{${p}}`))
  if (missing.length > 0) {
    throw new ConfigError(`${name}: must contain ${missing.map((p) => `{${p}}`).join(' and ')} (got ${JSON.stringify(value)})`)
  }
  return value
}

/** METRICS_ALLOW: addresses and CIDR ranges, IPv4 or IPv6. */
function parseAllowList (value: string): string[] {
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

function parseTrustProxy (value: string | undefined): Config['trustProxy'] {
  if (value === undefined || value === '' || value === 'false') return false
  if (value === 'true') return true
  if (/^\d+$/.test(value)) return Number(value)
  return value.split(',').map((s) => s.trim()).filter(Boolean)
}

/** Reads and validates the environment. Throws ConfigError naming the variable. */
export function loadConfig (source: Record<string, string | undefined> = process.env): Config {
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

  const { signingKey, verifyKey, previousKeys } = jwtKeys(env, { production, embedded, dataDir })

  // Password reset is always on and mails its link: production needs a real mail server.
  if (production && !env.SMTP_URL) {
    throw new ConfigError('SMTP_URL: required in production (password reset and e-mail verification send e-mail)')
  }
  // Checked here, not at the first e-mail; the value is not echoed (it holds a password).
  if (env.SMTP_URL && !(URL.canParse(env.SMTP_URL) && new URL(env.SMTP_URL).hostname)) {
    throw new ConfigError('SMTP_URL: not a valid URL with a host (characters such as @ : / in the user or password must be percent-encoded)')
  }
  const { web, warnings } = webConfig(env, production)
  const accountPages = env.ACCOUNT_PAGES === 'true' || env.ACCOUNT_PAGES === '1'
  // The e-mails' links land on the account pages by default.
  const resetUrl = linkTemplate('PASSWORD_RESET_URL', env.PASSWORD_RESET_URL ?? `${web.publicUrl}/account/reset/?uid={uid}&token={token}`, ['uid', 'token'])
  const verifyUrl = linkTemplate('EMAIL_VERIFY_URL', env.EMAIL_VERIFY_URL ?? `${web.publicUrl}/account/verify/?key={key}`, ['key'])
  const changeUrl = linkTemplate('EMAIL_CHANGE_URL', env.EMAIL_CHANGE_URL ?? `${web.publicUrl}/account/email/?key={key}`, ['key'])
  if (!accountPages && (env.PASSWORD_RESET_URL === undefined || env.EMAIL_VERIFY_URL === undefined || env.EMAIL_CHANGE_URL === undefined)) {
    warnings.push('ACCOUNT_PAGES=false: the e-mails still link to /account/reset/, /account/verify/ and /account/email/ unless PASSWORD_RESET_URL, EMAIL_VERIFY_URL and EMAIL_CHANGE_URL name pages of your own')
  }
  const mfa = mfaConfig(env, { production, embedded, dataDir, publicUrl: web.publicUrl }, warnings)
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
    accessLogSample: env.ACCESS_LOG_SAMPLE,
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
    livenessCache: {
      size: env.LIVENESS_CACHE_SIZE,
      ttlMs: Math.round(env.LIVENESS_CACHE_TTL * 1000),
      heartbeatMs: Math.round(env.LIVENESS_CACHE_HEARTBEAT * 1000)
    },
    apiProfile: env.API_PROFILE as ApiProfile,
    // The backends the other profiles stand in for keep their refresh tokens.
    rotateRefreshTokens: env.ROTATE_REFRESH_TOKENS === undefined ? env.API_PROFILE === 'simplejwt' : env.ROTATE_REFRESH_TOKENS === 'true' || env.ROTATE_REFRESH_TOKENS === '1',
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
    web,
    accountPages,
    mfa,
    // An admin's token must come from a sign-in with a second factor (amr has mfa).
    notify: notifyConfig(env.NOTIFY_EVENTS, accountPages ? web.publicUrl : null),
    passwordBreach: { check: env.PASSWORD_BREACH_CHECK as 'off' | 'hibp', url: env.HIBP_URL ?? 'https://api.pwnedpasswords.com/range/' },
    admin: { requireMfa: env.ADMIN_REQUIRE_MFA === undefined ? production : env.ADMIN_REQUIRE_MFA === 'true' || env.ADMIN_REQUIRE_MFA === '1' },
    warnings,
    email: {
      verification: env.EMAIL_VERIFICATION as EmailVerification,
      smtpUrl: env.SMTP_URL ?? null,
      from: env.EMAIL_FROM,
      resetUrl,
      verifyUrl,
      changeUrl,
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
