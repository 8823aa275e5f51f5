// The benchmark's settings: flags, else environment variables, else defaults (see run.ts).
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

export const here = dirname(fileURLToPath(import.meta.url))
// dist/bench -> dist (compiled scripts) and the repository root (results folder).
export const distRoot = resolve(here, '..')
export const resultsDir = join(resolve(distRoot, '..'), 'bench', 'results')

/** Every Redis key of the benchmark starts with this (deleted before and after a run). */
export const PREFIX = 'bench:'
/** The service's and the baseline's bcrypt cost (the default of a deployment). */
export const BCRYPT_COST = 12

export const SCENARIOS = ['protected', 'verify', 'refresh', 'login', 'mixed', 'protected-db', 'refresh-db', 'revoke'] as const
export type Scenario = (typeof SCENARIOS)[number]

const { values: flags } = parseArgs({
  options: {
    url: { type: 'string' },
    duration: { type: 'string' },
    'refresh-duration': { type: 'string' },
    connections: { type: 'string' },
    'login-connections': { type: 'string' },
    warmup: { type: 'string' },
    rounds: { type: 'string' },
    sessions: { type: 'string' },
    only: { type: 'string' },
    'skip-memory': { type: 'boolean', default: false },
    'skip-probe': { type: 'boolean', default: false },
    'log-level': { type: 'string' },
    'database-url': { type: 'string' },
    'redis-url': { type: 'string' },
    instances: { type: 'string' },
    help: { type: 'boolean', short: 'h' }
  }
})
if (flags.help) {
  console.log('usage: npm run bench -- [--url URL] [--duration S] [--refresh-duration S] [--connections N] [--login-connections N]\n' +
    '       [--warmup S] [--sessions N] [--only protected,verify,refresh,login,mixed,protected-db,refresh-db,revoke] [--skip-memory] [--skip-probe] [--log-level L]\n' +
    '       [--instances N]')
  process.exit(0)
}

function num (flag: string | undefined, env: string, def: number): number {
  const raw = flag ?? process.env[env]
  if (raw === undefined || raw === '') return def
  const n = Number(raw)
  if (!Number.isFinite(n) || n < 0) throw new Error(`${env}: not a number (${raw})`)
  return n
}

export const opts = {
  url: flags.url ?? process.env.BENCH_URL ?? null,
  duration: num(flags.duration, 'BENCH_DURATION', 10),
  refreshDuration: num(flags['refresh-duration'], 'BENCH_REFRESH_DURATION', 60),
  connections: num(flags.connections, 'BENCH_CONNECTIONS', 32),
  loginConnections: num(flags['login-connections'], 'BENCH_LOGIN_CONNECTIONS', 8),
  warmup: num(flags.warmup, 'BENCH_WARMUP', 2),
  rounds: Math.max(1, Math.round(num(flags.rounds, 'BENCH_ROUNDS', 4))),
  sessions: num(flags.sessions, 'BENCH_SESSIONS', 100_000),
  only: new Set((flags.only ?? process.env.BENCH_ONLY ?? SCENARIOS.join(',')).split(',').map((s) => s.trim()) as Scenario[]),
  skipMemory: flags['skip-memory'] || process.env.BENCH_SKIP_MEMORY === '1',
  skipProbe: flags['skip-probe'] || process.env.BENCH_SKIP_PROBE === '1',
  logLevel: flags['log-level'] ?? process.env.BENCH_LOG_LEVEL ?? 'info',
  databaseUrl: flags['database-url'] ?? process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/auth_bench',
  redisUrl: flags['redis-url'] ?? process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  // > 1: protected, verify and refresh also run on that many instances of the service at once,
  // next to one instance alone, with Redis's CPU and commands per request (bench/scaling.ts).
  instances: num(flags.instances, 'BENCH_INSTANCES', 1)
}
for (const s of opts.only) if (!SCENARIOS.includes(s)) throw new Error(`--only: unknown scenario ${s}`)
if (!Number.isInteger(opts.instances) || opts.instances < 1) throw new Error(`--instances: a whole number >= 1 (${opts.instances})`)
// The instances are the benchmark's own children: a given service cannot be multiplied.
if (opts.instances > 1 && opts.url) throw new Error('--instances: not with --url (the benchmark starts the instances itself)')
if (opts.instances > opts.connections) throw new Error(`--instances: at most one instance per connection (${opts.connections})`)
