// `npm run bench`: the load benchmark of the service against a minimal baseline app doing only
// the raw work of each route (bench/baseline.ts), in the same run, so the ratio service/baseline
// is the figure to quote (absolute numbers vary between machines). See the README's Performance section.
//
//   npm run bench                            service on PostgreSQL (database auth_bench, created
//                                            and migrated) + Redis (prefix bench:), and the baseline
//   npm run bench -- --url http://host:port  an already running service (start it with
//                                            RATE_LIMIT_ENABLED=false); the baseline still runs
//                                            against the local Redis/PostgreSQL
//   flags (or env): --duration BENCH_DURATION (10 s) · --refresh-duration BENCH_REFRESH_DURATION (60 s)
//     --connections BENCH_CONNECTIONS (32) · --login-connections BENCH_LOGIN_CONNECTIONS (8, mixed)
//     --warmup BENCH_WARMUP (2 s) · --rounds BENCH_ROUNDS (4: protected and verify alternate
//     service and baseline in 4 runs of duration/4 each, S B B S S B B S) · --sessions BENCH_SESSIONS (100000, memory) · --only protected,verify,...
//     --skip-memory · --skip-probe · --log-level BENCH_LOG_LEVEL (info, the service's
//     default: what a deployment runs with, request logging included) · --url BENCH_URL
//     --database-url BENCH_DATABASE_URL · --redis-url BENCH_REDIS_URL
//     --instances BENCH_INSTANCES (1): N > 1 also runs protected, verify and refresh on one service
//     instance alone and on N at once (same database and Redis), with Redis CPU and commands per
//     request and a projection to Redis Cluster shards (bench/scaling.ts)
//   BENCH_NODE_OPTIONS: node flags for the children (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof");
//   BENCH_SERVICE_SCRIPT: the service's entry point (default dist/src/server.js), to compare a variant.
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, totalmem, type as osType, release } from 'node:os'
import { join } from 'node:path'
import bcrypt from 'bcryptjs'
import pg from 'pg'
import { Redis } from 'ioredis'
import type { LoadResult } from './load.js'
import { deletePrefix, measureMemory, type MemoryResult } from './memory.js'
import { openLog, runNode, startChild, type Child } from './processes.js'
import { probeRoundTrips, type ProbeResult } from './probe.js'
import { printReport, type ScenarioReport } from './report.js'
import { scaleOut, type ScalingReport } from './scaling.js'
import { cpuMark, otherCores } from './cpu.js'
import { bcryptCompareMs, bcryptPoolRate } from './bcrypt.js'
import { distRoot, here, opts, resultsDir, SCENARIOS } from './options.js'
import { inBatches, merge, post, scenario, type Pair, type Target } from './scenarios.js'

const PREFIX = 'bench:'
const BCRYPT_COST = 12
const runId = randomBytes(3).toString('hex')
const stamp = new Date().toISOString().replace(/[:.]/g, '-')
mkdirSync(resultsDir, { recursive: true })
const logPath = join(resultsDir, `${stamp}.log`)
const log = openLog(logPath)
const say = (line: string) => {
  console.log(line)
  log.write(`# ${line}\n`)
}

// ---------------------------------------------------------------------------------------------
// Setup: database, Redis, processes

async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url)
  const name = target.pathname.slice(1)
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`bench database name not supported: ${name}`)
  const admin = new URL(url)
  admin.pathname = '/postgres'
  const client = new pg.Client({ connectionString: admin.toString() })
  await client.connect()
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
    if (!rowCount) {
      await client.query(`CREATE DATABASE "${name}"`)
      say(`created database ${name}`)
    }
  } finally {
    await client.end()
  }
  await runNode('migrate', join(distRoot, 'scripts', 'migrate.js'), [], { ...baseEnv(), DATABASE_URL: url }, log)
  // The database is the benchmark's own: start from no users.
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  await db.query('TRUNCATE users')
  await db.end()
}

function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) if (process.env[k] !== undefined) env[k] = process.env[k]
  return env
}

const jwtSecret = randomBytes(48).toString('base64url')
function appEnv(prefix: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...baseEnv(),
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    JWT_SECRET: jwtSecret,
    // Production needs a mail server; the benchmark sends no mail, so none is ever contacted.
    SMTP_URL: 'smtp://127.0.0.1:2525',
    DATABASE_URL: opts.databaseUrl,
    REDIS_URL: opts.redisUrl,
    REDIS_KEY_PREFIX: prefix,
    RATE_LIMIT_ENABLED: 'false',
    BCRYPT_COST: String(BCRYPT_COST),
    LOG_LEVEL: opts.logLevel,
    DATA_DIR: join(resultsDir, 'data'),
    ...extra
  }
}

// Request logs (info and below) are not kept: see startChild.
const quiet = !['warn', 'error', 'fatal', 'silent'].includes(opts.logLevel)
const startService = (prefix: string, extra: NodeJS.ProcessEnv = {}) =>
  // BENCH_SERVICE_SCRIPT: another entry point for the service (to measure a variant of it).
  startChild('service', process.env.BENCH_SERVICE_SCRIPT ?? join(distRoot, 'src', 'server.js'), appEnv(prefix, extra), logPath, quiet)
const startBaseline = () => startChild('baseline', join(here, 'baseline.js'), appEnv(`${PREFIX}base:`), logPath, false)

async function main(): Promise<number> {
  const startedAt = new Date()
  const load1 = loadavg()
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memoryGb: Math.round(totalmem() / 2 ** 30),
    os: `${osType()} ${release()}`,
    node: process.version,
    loadAverageAtStart: load1.map((l) => Number(l.toFixed(2)))
  }
  say(`bench ${runId}: ${machine.cores} cores (${machine.cpu}), node ${machine.node}, load average ${machine.loadAverageAtStart.join(' ')}`)
  if (load1[0]! > machine.cores * 0.5) say(`warning: the machine is busy before the run (1-minute load ${load1[0]!.toFixed(2)} on ${machine.cores} cores): ratios hold better than absolute figures`)
  say(`log: ${logPath}`)

  const compareMs = bcryptCompareMs(BCRYPT_COST)
  const loginBound = machine.cores / (compareMs / 1000)
  const poolRate = await bcryptPoolRate(BCRYPT_COST)
  say(`one bcrypt compare at cost ${BCRYPT_COST}: ${compareMs.toFixed(0)} ms -> login bound ${loginBound.toFixed(1)}/s (cores / compare time); ` +
    `a pool of ${machine.cores} workers alone: ${poolRate.toFixed(2)}/s`)

  await deletePrefix(opts.redisUrl, PREFIX)
  const children: Child[] = []
  const results: ScenarioReport[] = []
  let memory: MemoryResult | null = null
  const probes: ProbeResult[] = []
  const scaling: ScalingReport[] = []
  try {
    await ensureDatabase(opts.databaseUrl)
    let serviceUrl = opts.url
    let first: Child | null = null
    if (!serviceUrl) {
      first = await startService(`${PREFIX}svc:`)
      children.push(first)
      serviceUrl = first.url
    }
    const baseline = await startBaseline()
    children.push(baseline)
    say(`service ${serviceUrl}${opts.url ? ' (given)' : ''}, baseline ${baseline.url}`)

    // The users: registered through the service (bcrypt at cost 12, a few at a time).
    const count = Math.max(opts.connections, opts.loginConnections)
    const users = await inBatches(count, 4, async (i) => {
      const u = { username: `bench_${runId}_${i}`, password: `${randomBytes(9).toString('base64url')}-Pw1` }
      const created = await post<{ id: string }>(serviceUrl, '/api/auth/register/', { ...u, email: `${u.username}@bench.example`, password2: u.password }, 201)
      return { ...u, id: created.id }
    })
    say(`registered ${users.length} users`)
    if (opts.url) {
      // The given service keeps its users in its own database: the baseline's login reads the
      // benchmark's, so the same users (same ids and passwords, bcrypt at the same cost) go there.
      const db = new pg.Client({ connectionString: opts.databaseUrl })
      await db.connect()
      try {
        for (const u of users) {
          await db.query(
            'INSERT INTO users (id, username, username_lower, email, email_lower, password_hash) VALUES ($1, $2, $3, $4, $5, $6)',
            [u.id, u.username, u.username.toLowerCase(), `${u.username}@bench.example`, `${u.username}@bench.example`, bcrypt.hashSync(u.password, BCRYPT_COST)]
          )
        }
      } finally {
        await db.end()
      }
    }

    const service: Target = {
      kind: 'service',
      url: serviceUrl,
      paths: { protected: '/api/protected-endpoint/', verify: '/api/token/verify/', refresh: '/api/token/refresh/', login: '/api/auth/login/' },
      session: (u) => post<Pair>(serviceUrl, '/api/auth/login/', { username: u.username, password: u.password })
    }
    const base: Target = {
      kind: 'baseline',
      url: baseline.url,
      paths: { protected: '/protected', verify: '/verify', refresh: '/refresh', login: '/login' },
      session: (u) => post<Pair>(baseline.url, '/session', { user_id: u.id })
    }

    // Our own processes, so that other work on the machine can be told apart (bench/cpu.ts).
    const info = new Redis(opts.redisUrl, { lazyConnect: true })
    await info.connect()
    const redisPid = Number(/process_id:(\d+)/.exec(await info.info('server'))?.[1] ?? 0)
    info.disconnect()
    const pids = [process.pid, redisPid, ...children.map((c) => c.pid)].filter((p) => p > 0)

    // The same service with its sessions in PostgreSQL (TOKEN_STORE=database, no Redis at all),
    // started when a database-store scenario first needs it.
    let dbService: Target | null = null
    const databaseStore = async (): Promise<Target> => {
      if (dbService) return dbService
      const child = await startService(`${PREFIX}db:`, { TOKEN_STORE: 'database', REDIS_URL: '' })
      children.push(child)
      say(`service with sessions in PostgreSQL ${child.url}`)
      dbService = { ...service, url: child.url, session: (u) => post<Pair>(child.url, '/api/auth/login/', { username: u.username, password: u.password }) }
      return dbService
    }

    for (const name of SCENARIOS) {
      if (!opts.only.has(name)) continue
      if (name === 'protected-db' || name === 'refresh-db') {
        const kind = name === 'protected-db' ? 'protected' : 'refresh'
        const load = Number(loadavg()[0]!.toFixed(2))
        const target = await databaseStore()
        say(`${kind}: service with sessions in PostgreSQL...`)
        const s = (await scenario(kind, target, users, opts.duration)) as LoadResult
        // Next to the Redis store's figure of this run, when it ran.
        const onRedis = results.find((r) => r.name === kind)?.service as LoadResult | undefined
        results.push({ name, service: s, baseline: onRedis ?? null, loadAverage: load, otherCpu: null })
        continue
      }
      const load = Number(loadavg()[0]!.toFixed(2))
      const mark = cpuMark(pids)
      const other = () => {
        const cores = otherCores(mark, pids)
        return cores === null ? null : Number(cores.toFixed(2))
      }
      if ((name === 'protected' || name === 'verify') && opts.rounds > 1) {
        // Service and baseline alternate (S B B S ...) in shorter runs, so a change in the load
        // of a shared machine falls on both alike.
        const runs = { service: [] as LoadResult[], baseline: [] as LoadResult[] }
        for (let r = 0; r < opts.rounds; r++) {
          for (const t of r % 2 === 0 ? [service, base] : [base, service]) {
            say(`${name}: ${t.kind} (round ${r + 1} of ${opts.rounds})...`)
            runs[t.kind].push((await scenario(name, t, users, opts.duration / opts.rounds)) as LoadResult)
          }
        }
        results.push({ name, service: merge(runs.service), baseline: merge(runs.baseline), loadAverage: load, otherCpu: other() })
        continue
      }
      say(`${name}: service...`)
      const s = await scenario(name, service, users)
      say(`${name}: baseline...`)
      const b = await scenario(name, base, users)
      results.push({ name, service: s, baseline: b, loadAverage: load, otherCpu: other() } as ScenarioReport)
    }

    // --instances N: more instances of the same service (the same environment: database, Redis,
    // key prefix, JWT secret; only PORT differs), each started as the first one was.
    const scaled = (['protected', 'verify', 'refresh'] as const).filter((n) => opts.only.has(n))
    if (opts.instances > 1 && first && scaled.length) {
      const extra: Child[] = []
      for (let k = 1; k < opts.instances; k++) {
        const child = await startService(`${PREFIX}svc:`)
        children.push(child)
        extra.push(child)
      }
      say(`${opts.instances} service instances: ${[first, ...extra].map((c) => c.url).join(', ')}`)
      const targets: Target[] = [
        service,
        ...extra.map((c): Target => ({ ...service, url: c.url, session: (u) => post<Pair>(c.url, '/api/auth/login/', { username: u.username, password: u.password }) }))
      ]
      const servicePids = [first, ...extra].map((c) => c.pid)
      const ourPids = [process.pid, redisPid, ...children.map((c) => c.pid)].filter((p) => p > 0)
      for (const name of scaled) {
        scaling.push(await scaleOut(name, targets, users, { redisUrl: opts.redisUrl, servicePids, ourPids, say }))
      }
    }

    if (!opts.skipProbe && !opts.url) {
      for (const tokenStore of ['redis', 'database'] as const) {
        say(`probe: Redis round trips and database queries per request, sessions in ${tokenStore} (a second service behind counting proxies)...`)
        probes.push(
          await probeRoundTrips({ tokenStore, start: (extra) => startService(`${PREFIX}probe:`, extra), redisUrl: opts.redisUrl, databaseUrl: opts.databaseUrl, users })
        )
      }
    }
  } finally {
    for (const child of children.reverse()) await child.stop()
  }

  if (!opts.skipMemory) {
    say(`memory: ${opts.sessions} sessions through the token store...`)
    memory = await measureMemory(
      opts.redisUrl,
      `${PREFIX}mem:`,
      { accessTtl: 300, refreshTtl: 86_400, sessionMaxAge: 2_592_000, reuseInterval: 10 },
      opts.sessions
    )
  }
  await deletePrefix(opts.redisUrl, PREFIX)

  const report = {
    runId,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { ...machine, loadAverageAtEnd: loadavg().map((l) => Number(l.toFixed(2))) },
    settings: { ...opts, only: [...opts.only], bcryptCost: BCRYPT_COST, url: opts.url, logLevel: opts.url ? 'as given' : opts.logLevel },
    bcrypt: { compareMs, loginBound, poolRate },
    scenarios: results,
    probes,
    memory,
    ...(scaling.length ? { scaling } : {})
  }
  const { passed, text } = printReport(report)
  const file = join(resultsDir, `${stamp}.json`)
  writeFileSync(file, JSON.stringify({ ...report, passed, table: text }, null, 2))
  writeFileSync(join(resultsDir, 'latest.json'), JSON.stringify({ ...report, passed, table: text }, null, 2))
  say(`results: ${file}`)
  log.end()
  return 0
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`bench failed: ${err.stack ?? err.message}\n(log: ${logPath})`)
    log.end()
    process.exit(1)
  }
)

