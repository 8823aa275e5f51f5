// The validated configuration the app receives (fastify.config), made by loadConfig (load.ts).
import type { RedisTarget } from '../../external/redis.js'
import type { MfaConfig } from './mfa.js'
import type { NotifyConfig } from './notify.js'
import type { WebConfig } from './web.js'

export type JwtAlgorithm = 'HS256' | 'RS256' | 'ES256' | 'EdDSA'
export type EmailVerification = 'none' | 'optional' | 'mandatory'
/** The dialects of API_PROFILE: this service's own (SimpleJWT's), and two backends it replaces. */
export type ApiProfile = 'simplejwt' | 'camelcase' | 'envelope'

export interface Config {
  env: string
  production: boolean
  port: number
  host: string
  logLevel: string
  /** ACCESS_LOG_SAMPLE: the share of the hot routes' successes that get an access-log line. */
  accessLogSample: number
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
  /**
   * Protected requests and verify answered from memory while the store's invalidation channel is
   * confirmed (token-store/liveness). size 0: every check asks the store.
   */
  livenessCache: {
    /** Entries per instance (LRU). */
    size: number
    /** Longest an entry answers without a new look at the store, ms. */
    ttlMs: number
    /** A canary is sent this often and must come back within as long, ms. */
    heartbeatMs: number
  }
  /**
   * ROTATE_REFRESH_TOKENS: a refresh issues a new refresh token (and the old one is blacklisted);
   * false: only an access token, the refresh token staying valid until it expires or is revoked.
   */
  rotateRefreshTokens: boolean
  /** API_PROFILE: the dialect the HTTP edge speaks (request fields, answers, errors). */
  apiProfile: ApiProfile
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
  /** Web clients: PUBLIC_URL, cookie mode's cookies, CSRF and CORS origins. */
  web: WebConfig
  /** ACCOUNT_PAGES: the self-service pages at /account/ (and the browser client at /account/auth-client.js). */
  accountPages: boolean
  /** The second factor: TOTP issuer, step-up age, secret encryption keys, the WebAuthn relying party. */
  mfa: MfaConfig
  /** NOTIFY_EVENTS: the security notifications mailed, and the page they point to. */
  notify: NotifyConfig
  /** PASSWORD_BREACH_CHECK (off or hibp) and HIBP_URL, the range API the prefix is appended to. */
  passwordBreach: { check: 'off' | 'hibp'; url: string }
  admin: {
    /** ADMIN_REQUIRE_MFA: the admin API only for tokens whose amr has mfa. */
    requireMfa: boolean
  }
  /** What an operator should change (deprecated settings): logged once at start. */
  warnings: string[]
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
    /** EMAIL_CHANGE_URL: the link mailed to a new address, with {key}. */
    changeUrl: string
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
