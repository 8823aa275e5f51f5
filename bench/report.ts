// The table of a run: per scenario the service's figures, the baseline's rate, the ratio and the
// target of issue 4; then the round-trip probe and the memory per session.
import type { LoadResult } from './load.js'
import type { MemoryResult } from './memory.js'
import type { ProbeResult } from './probe.js'
import type { ScalingReport, ScalingRun } from './scaling.js'

type Mixed = { refresh: LoadResult; login: LoadResult }
export type ScenarioReport =
  | {
    name: 'protected' | 'verify' | 'refresh' | 'login'
    service: LoadResult
    baseline: LoadResult
    /** protected, verify: the baseline without the store call (JWT check only), the ceiling of a cached check. */
    ceiling?: LoadResult
    loadAverage: number
    otherCpu: number | null
    /** Share of the service's liveness checks answered from memory (null: none counted). */
    hitRate?: number | null
  }
  /** The same scenarios with sessions in PostgreSQL (TOKEN_STORE=database); `baseline` is the Redis store's run. */
  | { name: 'protected-db' | 'refresh-db'; service: LoadResult; baseline: LoadResult | null; loadAverage: number; otherCpu: number | null; hitRate?: number | null }
  /** Protected load while sessions are revoked; `baseline` is this run's protected figure. */
  | { name: 'revoke'; service: LoadResult; baseline: LoadResult | null; revoked: number; stale: number; loadAverage: number; otherCpu: number | null; hitRate?: number | null }
  | { name: 'mixed'; service: Mixed; baseline: Mixed; loadAverage: number; otherCpu: number | null; hitRate?: number | null }

export interface Report {
  machine: { cpu: string; cores: number; node: string; loadAverageAtStart: number[]; loadAverageAtEnd: number[] }
  settings: { connections: number; loginConnections: number; duration: number; refreshDuration: number; logLevel: string }
  bcrypt: { compareMs: number; loginBound: number; poolRate: number }
  scenarios: ScenarioReport[]
  probes: ProbeResult[]
  memory: MemoryResult | null
  /** --instances N > 1: one instance alone against N at once, with Redis's cost per request. */
  scaling?: ScalingReport[]
}

interface Row {
  scenario: string
  load: string
  rps: string
  p50: string
  p97_5: string
  p99: string
  non2xx: string
  errors: string
  baseline: string
  ratio: string
  hit: string
  target: string
  pass: string
}

const f = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
// autocannon records latencies in whole milliseconds (0 = under 1 ms).
const ms = (n: number) => f(n)

function row (scenario: string, other: number | null, s: LoadResult, b: LoadResult | null, target: string, pass: boolean | null, hitRate?: number | null): Row {
  return {
    scenario,
    load: other === null ? '-' : other.toFixed(2),
    rps: f(s.rps, s.rps < 100 ? 1 : 0),
    p50: ms(s.p50),
    p97_5: ms(s.p97_5),
    p99: ms(s.p99),
    non2xx: String(s.non2xx),
    errors: String(s.errors + s.timeouts),
    baseline: b ? f(b.rps, b.rps < 100 ? 1 : 0) : '-',
    ratio: b && b.rps > 0 ? (s.rps / b.rps).toFixed(2) : '-',
    hit: hitRate === undefined || hitRate === null ? '-' : `${(hitRate * 100).toFixed(1)}%`,
    target,
    pass: pass === null ? '' : pass ? 'pass' : 'FAIL'
  }
}

export function evaluate (report: Report): { rows: Row[]; passed: boolean } {
  const rows: Row[] = []
  let passed = true
  const check = (ok: boolean) => {
    passed &&= ok
    return ok
  }
  const clean = (r: LoadResult) => r.non2xx === 0 && r.errors === 0 && r.timeouts === 0
  for (const sc of report.scenarios) {
    if (sc.name === 'mixed') {
      const { refresh, login } = sc.service
      rows.push(row('mixed: refresh', sc.otherCpu, refresh, sc.baseline.refresh, 'p99 < 50 ms', check(refresh.p99 < 50 && clean(refresh))))
      rows.push(row('mixed: login', sc.otherCpu, login, sc.baseline.login, `${f(login.rps / report.bcrypt.loginBound, 2)} of bound`, null))
      continue
    }
    if (sc.name === 'protected-db' || sc.name === 'refresh-db') {
      const label = `${sc.name.replace('-db', '')}: database store`
      if (sc.name === 'protected-db') {
        const ratio = sc.baseline && sc.baseline.rps > 0 ? sc.service.rps / sc.baseline.rps : null
        rows.push(row(label, sc.otherCpu, sc.service, sc.baseline, '>= 0.90 of Redis store; 0 non-2xx', check(clean(sc.service) && (ratio === null || ratio >= 0.9)), sc.hitRate))
      } else rows.push(row(label, sc.otherCpu, sc.service, sc.baseline, 'vs Redis store; 0 non-2xx', check(clean(sc.service)), sc.hitRate))
      continue
    }
    if (sc.name === 'revoke') {
      rows.push(row('protected while revoking', sc.otherCpu, sc.service, sc.baseline, `${sc.stale} of ${sc.revoked} revoked accepted (0)`, check(sc.stale === 0 && sc.revoked > 0 && clean(sc.service)), sc.hitRate))
      continue
    }
    // A baseline that served nothing makes the run worthless, not a pass.
    const baseline = sc.baseline as LoadResult
    const ratio = baseline.rps > 0 ? sc.service.rps / baseline.rps : 0
    switch (sc.name) {
      case 'protected':
      case 'verify':
        // With the liveness cache: above the baseline that makes one Redis call per request, and
        // near the one that makes none (the ceiling of a path that answers from memory).
        rows.push(row(sc.name, sc.otherCpu, sc.service, baseline, '>= 1.15', check(ratio >= 1.15 && clean(sc.service)), sc.hitRate))
        if (sc.ceiling) {
          const ceiling = sc.ceiling.rps > 0 ? sc.service.rps / sc.ceiling.rps : 0
          rows.push(row(`${sc.name} vs no store`, sc.otherCpu, sc.service, sc.ceiling, '>= 0.85 (JWT check only)', check(ceiling >= 0.85)))
        }
        break
      case 'refresh': {
        const full = report.settings.refreshDuration >= 60
        rows.push(row(sc.name, sc.otherCpu, sc.service, baseline, `>= 0.90, 0 non-2xx${full ? '' : ' (short run)'}`, check(ratio >= 0.9 && clean(sc.service)), sc.hitRate))
        break
      }
      case 'login': {
        const bound = 0.85 * report.bcrypt.loginBound
        rows.push(row(sc.name, sc.otherCpu, sc.service, baseline, `>= ${f(bound, 1)}/s`, check(sc.service.rps >= bound && clean(sc.service))))
        break
      }
    }
  }
  for (const probe of report.probes) passed &&= probe.pass
  if (report.memory) passed &&= report.memory.pass
  return { rows, passed }
}

export function printReport (report: Report): { passed: boolean; text: string } {
  const { rows, passed } = evaluate(report)
  const header: Row = { scenario: 'scenario', load: 'other cpu', rps: 'req/s', p50: 'p50 ms', p97_5: 'p97.5 ms', p99: 'p99 ms', non2xx: 'non-2xx', errors: 'errors', baseline: 'baseline req/s', ratio: 'ratio', hit: 'hit rate', target: 'target', pass: '' }
  const cols = Object.keys(header) as Array<keyof Row>
  const width = Object.fromEntries(cols.map((c) => [c, Math.max(...[header, ...rows].map((r) => r[c].length))])) as Record<keyof Row, number>
  const line = (r: Row) => '| ' + cols.map((c) => (c === 'scenario' || c === 'target' || c === 'pass' ? r[c].padEnd(width[c]) : r[c].padStart(width[c]))).join(' | ') + ' |'
  const out: string[] = []
  const m = report.machine
  out.push('')
  out.push(`${m.cores} cores, ${m.cpu}, node ${m.node}; load average ${m.loadAverageAtStart.join(' ')} at start, ${m.loadAverageAtEnd.join(' ')} at end`)
  out.push(
    `${report.settings.connections} connections (mixed: + ${report.settings.loginConnections} login), ${report.settings.duration} s per scenario, ` +
      `refresh ${report.settings.refreshDuration} s, service LOG_LEVEL=${report.settings.logLevel}; bcrypt cost 12 compare ${f(report.bcrypt.compareMs)} ms, ` +
      `login bound ${f(report.bcrypt.loginBound, 1)}/s (cores / compare), bcrypt pool alone ${f(report.bcrypt.poolRate, 1)}/s`
  )
  out.push('other cpu: cores used by processes outside the benchmark during the scenario (0 = the machine was ours)')
  out.push('')
  out.push(line(header))
  out.push('|' + cols.map((c) => '-'.repeat(width[c] + 2)).join('|') + '|')
  for (const r of rows) out.push(line(r))
  for (const sc of report.scenarios) {
    const all = sc.name === 'mixed' ? [sc.service.refresh, sc.service.login] : [sc.service]
    for (const r of all) for (const s of r.samples) out.push(`  ${sc.name}: ${s.status} ${s.body}`)
  }
  for (const p of report.probes) {
    const target = p.tokenStore === 'redis' ? 'refresh: 1 Redis, 0 db; protected: <= 1 Redis' : 'refresh: 1 db, 0 Redis; protected: <= 1 db'
    out.push('')
    out.push(
      `round trips per request, sessions in ${p.tokenStore === 'redis' ? 'Redis' : 'PostgreSQL'} (on the wire, most of ${p.requests}): ` +
        Object.entries(p.routes).map(([k, v]) => `${k} redis ${v.redis} db ${v.database}`).join(' · ') +
        ` -> ${p.pass ? 'pass' : 'FAIL'} (${target})`
    )
  }
  if (report.memory) {
    const mem = report.memory
    out.push(
      `Redis memory per live session (${f(mem.sessions)} sessions, MEMORY USAGE): ${f(mem.bytesPerSession)} bytes ` +
        `(session hash ${f(mem.sessionHashBytes.fresh)} fresh / ${f(mem.sessionHashBytes.rotated)} rotated + user index ${f(mem.userIndexBytes)}, one user per session); ` +
        `used_memory growth ${f(mem.usedMemoryPerSession)} bytes/session; keys without TTL: ${mem.keysWithoutTtl} of ${f(mem.keys)} -> ${mem.pass ? 'pass' : 'FAIL'} (< ${mem.target})`
    )
  }
  if (report.scaling?.length) out.push(...scalingLines(report.scaling, report.machine.cores, report.settings.connections))
  out.push('')
  out.push(passed ? 'all targets met' : 'some targets missed (see FAIL above)')
  const text = out.join('\n')
  console.log(text)
  return { passed, text }
}

// ---------------------------------------------------------------------------------------------
// --instances N: one instance against N, and what each request costs Redis

const opt = (n: number | null, digits = 2) => (n === null ? '-' : f(n, digits))

/** What held the N instances back, from the run's own figures. */
function limitOf (run: ScalingRun, cores: number): string {
  const redis = run.redis.mainThreadCores ?? run.redis.cores
  const app = run.serviceCores ?? 0
  const gen = run.generatorCores ?? 0
  const shares = `instances ${opt(run.serviceCores)}, load generator ${opt(run.generatorCores)}, Redis ${f(run.redis.cores, 2)}, other work ${opt(run.otherCpu)} of ${cores} cores`
  if (redis >= 0.85) return `the Redis main thread of the one shard (${f(redis, 2)} core busy; ${shares})`
  if (run.machineCores !== null && run.machineCores >= 0.9 * cores) {
    return gen > app
      ? `the load generator, on a machine with every core busy (${shares}); Redis was far from one core`
      : `the app instances' CPU, on a machine with every core busy (${shares}); Redis was far from one core`
  }
  if (gen >= 0.9) return `the load generator (one node process; ${shares})`
  return `the app instances' CPU (${shares})`
}

function scalingLines (scaling: ScalingReport[], cores: number, connections: number): string[] {
  const n = scaling[0]!.spread.instances
  const header = ['scenario', 'instances', 'req/s', 'ratio', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'other cpu', 'Redis cores', 'Redis cmds/req', 'Redis µs/req cmdstats', 'Redis µs/req cpu', 'app cores', 'app µs/req', 'load gen cores']
  const rows: string[][] = []
  for (const sc of scaling) {
    for (const run of [sc.single, sc.spread]) {
      const r = run.redis
      rows.push([
        sc.name,
        String(run.instances),
        f(run.load.rps),
        run === sc.spread ? f(sc.ratio, 2) : '-',
        ms(run.load.p50),
        ms(run.load.p99),
        String(run.load.non2xx),
        String(run.load.errors + run.load.timeouts),
        opt(run.otherCpu),
        f(r.cores, 2),
        f(r.commandsPerRequest, 2),
        f(r.commandUsecPerRequest, 1),
        f(r.cpuUsecPerRequest, 1),
        opt(run.serviceCores),
        opt(run.serviceUsecPerRequest, 0),
        opt(run.generatorCores)
      ])
    }
  }
  const width = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)))
  const line = (r: string[]) => '| ' + r.map((v, c) => (c === 0 ? v.padEnd(width[c]!) : v.padStart(width[c]!))).join(' | ') + ' |'
  const out = [
    '',
    `${n} service instances (same database, same Redis and key prefix, own ports) against 1 alone, back to back: ${connections} connections in all, ` +
      `instance k serving its own ${Math.floor(connections / n)}${connections % n ? '-' + Math.ceil(connections / n) : ''} (one autocannon run per instance, in parallel, in this process); ` +
      `req/s summed, p50/p99 the worst instance's; ratio = ${n} instances / 1`,
    'Redis cores = (used_cpu_sys + used_cpu_user) delta / wall time; cmds/req = commands clients sent (a script once); µs/req cmdstats = their commandstats usec ' +
      '(execution only); µs/req cpu = all Redis CPU / requests; app = the instances\' processes; figures are for the whole Redis server',
    '',
    line(header),
    '|' + width.map((w) => '-'.repeat(w + 2)).join('|') + '|',
    ...rows.map(line)
  ]
  for (const sc of scaling) {
    const r = sc.spread.redis
    const listed = Object.entries(r.perCommand).map(([c, k]) => `${c} ${f(k, 2)}`)
    out.push(
      `${sc.name}, Redis commands per request (${n} instances): ` +
        (r.insideScripts ? `scripts sent ${f(r.commandsPerRequest, 2)}; every command, those run by the scripts included: ` : '') +
        (listed.join(' · ') || 'none') +
        `; Redis idle just before: ${f(sc.idle.redisCores, 2)} cores, ${f(sc.idle.commandsPerSecond, 0)} commands/s from other clients`
    )
  }
  for (const sc of scaling) {
    const run = sc.spread
    const unit = sc.name === 'refresh' ? 'rotation' : 'request'
    const us = run.redis.cpuUsecPerRequest
    if (!(us > 0) || run.load.requests === 0) continue
    const perShard = 1e6 / us
    const app = run.serviceUsecPerRequest
    out.push(
      `projection (${sc.name}): Redis ${f(us, 1)} µs CPU per ${unit} (commandstats ${f(run.redis.commandUsecPerRequest, 1)} µs) -> one Redis core ` +
        `(one Cluster master shard's main thread) carries about ${f(perShard)} ${unit}s/s, ${n} shards about ${f(n * perShard)}/s. ` +
        `Here ${n} instances did ${f(run.load.rps)}/s` +
        (app ? `, at ${f(app, 0)} µs of app CPU per ${unit} (about ${f(1e6 / app)}/s per app core, so about ${f(app / us, 1)} app cores per Redis shard)` : '') +
        `; the limit: ${limitOf(run, cores)}`
    )
  }
  return out
}
