// The processes the benchmark measures: the service (one or more instances, or a variant of it
// with its sessions in PostgreSQL) and the baseline, each started with the environment of a
// production deployment on the benchmark's database and Redis, and the targets that reach them.
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { BCRYPT_COST, distRoot, here, opts, PREFIX, resultsDir } from './options.js'
import { baseEnv, startChild, type Child } from './processes.js'
import { logPath } from './run-log.js'
import { post, type Pair, type Target } from './scenarios.js'

// One secret for every child: the service's instances accept each other's tokens.
const jwtSecret = randomBytes(48).toString('base64url')
function appEnv (prefix: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...baseEnv(),
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    JWT_SECRET: jwtSecret,
    MFA_ENCRYPTION_KEY: jwtSecret,
    // Production needs a mail server; the benchmark sends no mail, so none is ever contacted.
    SMTP_URL: 'smtp://127.0.0.1:2525',
    DATABASE_URL: opts.databaseUrl,
    REDIS_URL: opts.redisUrl,
    REDIS_KEY_PREFIX: prefix,
    RATE_LIMIT_ENABLED: 'false',
    BCRYPT_COST: String(BCRYPT_COST),
    LOG_LEVEL: opts.logLevel,
    // The access log's sampling of the hot routes (the service's default unless given).
    ...(process.env.BENCH_ACCESS_LOG_SAMPLE ? { ACCESS_LOG_SAMPLE: process.env.BENCH_ACCESS_LOG_SAMPLE } : {}),
    DATA_DIR: join(resultsDir, 'data'),
    ...extra
  }
}

/** BENCH_SERVICE_ENV: settings of the service to measure, `NAME=value` separated by spaces (LIVENESS_CACHE_SIZE=0 ...). */
function serviceSettings (): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const pair of (process.env.BENCH_SERVICE_ENV ?? '').split(/\s+/).filter(Boolean)) {
    const eq = pair.indexOf('=')
    if (eq < 1) throw new Error(`BENCH_SERVICE_ENV: "${pair}" is not NAME=value`)
    env[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  return env
}

// Request logs (info and below) are not kept: see startChild.
const quiet = !['warn', 'error', 'fatal', 'silent'].includes(opts.logLevel)
export const startService = (prefix: string, extra: NodeJS.ProcessEnv = {}): Promise<Child> =>
  // BENCH_SERVICE_SCRIPT: another entry point for the service (to measure a variant of it).
  startChild('service', process.env.BENCH_SERVICE_SCRIPT ?? join(distRoot, 'src', 'server.js'), appEnv(prefix, { ...serviceSettings(), ...extra }), logPath, quiet)
export const startBaseline = (): Promise<Child> => startChild('baseline', join(here, 'baseline.js'), appEnv(`${PREFIX}base:`), logPath, false)

/** The service's routes at `url`; a session is a login. */
export const serviceTarget = (url: string): Target => ({
  kind: 'service',
  url,
  paths: { protected: '/api/protected-endpoint/', verify: '/api/token/verify/', refresh: '/api/token/refresh/', login: '/api/auth/login/' },
  session: (u) => post<Pair>(url, '/api/auth/login/', { username: u.username, password: u.password })
})

/** The baseline's JWT-only routes at `url` (no store call: the ceiling of a cached liveness check). */
export const ceilingTarget = (url: string): Target => ({
  ...baselineTarget(url),
  kind: 'ceiling',
  paths: { protected: '/protected-jwt', verify: '/verify-jwt', refresh: '/refresh', login: '/login' }
})

/** The baseline's routes at `url`; a session comes from its bench-only route, without bcrypt. */
export const baselineTarget = (url: string): Target => ({
  kind: 'baseline',
  url,
  paths: { protected: '/protected', verify: '/verify', refresh: '/refresh', login: '/login' },
  session: (u) => post<Pair>(url, '/session', { user_id: u.id })
})
