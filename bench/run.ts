// `npm run bench`: the load benchmark of the service against a minimal baseline app doing only
// the raw work of each route (bench/baseline.ts), in the same run, so the ratio service/baseline
// is the figure to quote (absolute numbers vary between machines). Method and history: docs/performance.md.
//
//   npm run bench                            service on PostgreSQL (database auth_bench, created
//                                            and migrated) + Redis (prefix bench:), and the baseline
//   npm run bench -- --url http://host:port  an already running service (start it with
//                                            RATE_LIMIT_ENABLED=false); the baseline still runs
//                                            against the local Redis/PostgreSQL
//   flags (or env): --duration BENCH_DURATION (10 s) · --refresh-duration BENCH_REFRESH_DURATION (60 s)
//     --connections BENCH_CONNECTIONS (32) · --login-connections BENCH_LOGIN_CONNECTIONS (8, mixed)
//     --warmup BENCH_WARMUP (2 s) · --rounds BENCH_ROUNDS (4: protected, verify and refresh alternate
//     service and baseline in 4 runs of duration/4 each, S B B S S B B S) · --sessions BENCH_SESSIONS (100000, memory) · --only protected,verify,...
//     --skip-memory · --skip-probe · --log-level BENCH_LOG_LEVEL (info, the service's
//     default: what a deployment runs with, request logging included) · --url BENCH_URL
//     --database-url BENCH_DATABASE_URL · --redis-url BENCH_REDIS_URL
//     --instances BENCH_INSTANCES (1): N > 1 also runs protected, verify and refresh on one service
//     instance alone and on N at once (same database and Redis), with Redis CPU and commands per
//     request and a projection to Redis Cluster shards (bench/scaling.ts)
//   BENCH_NODE_OPTIONS: node flags for the children (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof");
//   BENCH_SERVICE_SCRIPT: the service's entry point (default dist/src/server.js), to compare a variant.
import { writeFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, totalmem, type as osType, release } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { deletePrefix, measureMemory, type MemoryResult } from './memory.js'
import type { Child } from './processes.js'
import { probeRoundTrips, type ProbeResult } from './probe.js'
import { printReport, type ScenarioReport } from './report.js'
import { scaleOut, type ScalingReport } from './scaling.js'
import { bcryptCompareMs, bcryptPoolRate } from './bcrypt.js'
import { BCRYPT_COST, distRoot, opts, PREFIX, resultsDir } from './options.js'
import { log, logPath, runId, say, stamp } from './run-log.js'
import { ensureDatabase } from './database.js'
import { copyUsers, registerUsers } from './users.js'
import { baselineTarget, ceilingTarget, serviceTarget, startBaseline, startService } from './services.js'
import { compare } from './compare.js'
import type { Target } from './scenarios.js'

async function main (): Promise<number> {
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
  let results: ScenarioReport[] = []
  let memory: MemoryResult | null = null
  const probes: ProbeResult[] = []
  const scaling: ScalingReport[] = []
  try {
    await ensureDatabase(opts.databaseUrl, distRoot, log, say)
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

    const users = await registerUsers(serviceUrl, runId, Math.max(opts.connections, opts.loginConnections))
    say(`registered ${users.length} users`)
    // The given service keeps its users in its own database: the baseline's login reads the benchmark's.
    if (opts.url) await copyUsers(opts.databaseUrl, users, BCRYPT_COST)

    const service = serviceTarget(serviceUrl)
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
      dbService = serviceTarget(child.url)
      return dbService
    }
    results = await compare({ service, baseline: baselineTarget(baseline.url), ceiling: ceilingTarget(baseline.url), databaseStore }, users, pids, say)

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
      const targets: Target[] = [service, ...extra.map((c) => serviceTarget(c.url))]
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
