// The environment the service reads: every variable, its type, range and default. loadConfig
// (load.ts) validates process.env against it and turns the result into a Config.
import Type, { type Static } from 'typebox'

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
  // The share of the hot routes' successful requests (protected GETs, verify, refresh) given an
  // access-log line; every other request and every failure always has one (src/app.ts).
  ACCESS_LOG_SAMPLE: Type.Number({ minimum: 0, maximum: 1, default: 0.01 }),
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
  // The liveness cache (token-store/liveness): entries per instance (0: off), their longest life
  // and the canary's period (s).
  LIVENESS_CACHE_SIZE: Type.Integer({ minimum: 0, maximum: 10_000_000, default: 10_000 }),
  LIVENESS_CACHE_TTL: Type.Number({ exclusiveMinimum: 0, maximum: 300, default: 5 }),
  LIVENESS_CACHE_HEARTBEAT: Type.Number({ minimum: 0.01, maximum: 60, default: 1 }),
  // SimpleJWT's setting; default: true under API_PROFILE=simplejwt, false under the others (load.ts).
  ROTATE_REFRESH_TOKENS: Type.Optional(Bool),
  API_PROFILE: Type.Union(['simplejwt', 'camelcase', 'envelope'].map((v) => Type.Literal(v)), { default: 'simplejwt' }),

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
  // Web clients (web.ts). CORS_ORIGINS: the deprecated name of CORS_ALLOWED_ORIGINS.
  PUBLIC_URL: Type.Optional(Type.String({ minLength: 1 })),
  REFRESH_COOKIE: Type.String({ pattern: '^[A-Za-z0-9_.-]+$', default: 'refresh_token' }),
  ACCESS_COOKIE: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]+$' })),
  COOKIE_SECURE: Type.Optional(Bool),
  COOKIE_SAMESITE: Type.Optional(Type.Union(['Strict', 'Lax', 'None', 'strict', 'lax', 'none'].map((v) => Type.Literal(v)))),
  COOKIE_DOMAIN: Type.Optional(Type.String({ pattern: '^\\.?[A-Za-z0-9.-]+$' })),
  CSRF_TRUSTED_ORIGINS: Type.Optional(Type.String()),
  CORS_ALLOWED_ORIGINS: Type.Optional(Type.String()),
  CORS_ORIGINS: Type.Optional(Type.String()),
  ACCOUNT_PAGES: { ...Bool, default: 'true' },

  EMAIL_VERIFICATION: Type.Union(['none', 'optional', 'mandatory'].map((v) => Type.Literal(v)), { default: 'optional' }),
  SMTP_URL: Type.Optional(Type.String({ pattern: '^smtps?://' })),
  SMTP_TIMEOUT: Type.Number({ exclusiveMinimum: 0, maximum: 600, default: 10 }),
  EMAIL_FROM: Type.String({ minLength: 1, default: 'no-reply@localhost' }),
  // Default: the account pages under PUBLIC_URL (load.ts).
  PASSWORD_RESET_URL: Type.Optional(Type.String({ minLength: 1 })),
  EMAIL_VERIFY_URL: Type.Optional(Type.String({ minLength: 1 })),
  PASSWORD_RESET_TIMEOUT: Seconds(3600),
  EMAIL_VERIFY_TIMEOUT: Seconds(259200),
  EMAIL_TEMPLATES_DIR: Type.Optional(Type.String({ minLength: 1 })),

  // The second factor (mfa.ts). MFA_ISSUER: no ':' (it separates issuer and account in the otpauth label).
  MFA_ISSUER: Type.String({ minLength: 1, maxLength: 64, pattern: '^[^:]+$', default: 'Auth service' }),
  REAUTH_MAX_AGE: Seconds(300),
  MFA_ENCRYPTION_KEY: Type.Optional(Type.String()),
  WEBAUTHN_RP_ID: Type.Optional(Type.String({ minLength: 1, pattern: '^[A-Za-z0-9.-]+$' })),
  WEBAUTHN_RP_NAME: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  WEBAUTHN_ORIGINS: Type.Optional(Type.String({ minLength: 1 })),
  // Administration: default true in production (load.ts).
  ADMIN_REQUIRE_MFA: Type.Optional(Bool),
  // Security notifications (notify.ts) and the e-mail change link (default: the account pages, load.ts).
  NOTIFY_EVENTS: Type.Optional(Type.String()),
  EMAIL_CHANGE_URL: Type.Optional(Type.String({ minLength: 1 })),
  // The breached-password check (passwords/breached.ts).
  PASSWORD_BREACH_CHECK: Type.Union(['off', 'hibp'].map((v) => Type.Literal(v)), { default: 'off' }),
  HIBP_URL: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' })),

  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  METRICS_ALLOW: Type.String({ default: '127.0.0.1,::1' })
})
export type Env = Static<typeof EnvSchema>
