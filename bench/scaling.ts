// --instances N: protected, verify and refresh on one instance alone and then on N instances of
// the service at once (same PostgreSQL database, same Redis and key prefix, each its own port;
// load spread as in scenarios.ts spread()), back to back in the same run. Around each counted run
// Redis's own accounting is read (INFO cpu, INFO commandstats), with the CPU of the instances and
// of this process (/proc), so the cost of a request in Redis can be projected to a Redis Cluster.
import { Redis } from 'ioredis'
import { cpuMark, cpuSeconds, otherCores } from './cpu.js'
import type { LoadResult } from './load.js'
import { opts } from './options.js'
import { merge, sleep, spread, type BenchUser, type Target } from './scenarios.js'

export type ScaledScenario = 'protected' | 'verify' | 'refresh'

/** What Redis and the processes spent during one counted run (or several, added up). */
export interface Usage {
  /** Wall seconds between the readings. */
  seconds: number
  /** INFO cpu: used_cpu_sys + used_cpu_user (every Redis thread), seconds. */
  redisCpu: number
  /** used_cpu_sys_main_thread + used_cpu_user_main_thread (Redis 6.2+; else null): the thread that limits a shard. */
  redisMainThreadCpu: number | null
  /** INFO commandstats deltas per command (our own INFO calls left out). */
  commands: Record<string, { calls: number; usec: number }>
  /** CPU seconds of the service instances, of this process (the load generator), of the whole machine. */
  serviceCpu: number | null
  generatorCpu: number | null
  machineCpu: number | null
}

/** Per-request figures of one run, from its Usage and its request count. */
export interface RedisFigures {
  /** Redis CPU seconds / wall seconds. */
  cores: number
  mainThreadCores: number | null
  /** Commands clients sent (scripts count once), per request. */
  commandsPerRequest: number
  /** Every command per request, those run inside scripts included (named apart in `insideScripts`). */
  perCommand: Record<string, number>
  insideScripts: boolean
  /** commandstats usec of the commands clients sent / requests (execution only: no socket I/O, no parsing). */
  commandUsecPerRequest: number
  /** All Redis CPU (INFO cpu) / requests: execution, socket I/O, parsing, background work. */
  cpuUsecPerRequest: number
}

export interface ScalingRun {
  instances: number
  /** All instances together: rates summed, percentiles the worst instance's. */
  load: LoadResult
  perInstance: LoadResult[]
  usage: Usage
  redis: RedisFigures
  /** Cores' worth of CPU of the service instances, of the load generator (this process), of other work. */
  serviceCores: number | null
  serviceUsecPerRequest: number | null
  generatorCores: number | null
  machineCores: number | null
  otherCpu: number | null
}

export interface ScalingReport {
  name: ScaledScenario
  single: ScalingRun
  spread: ScalingRun
  /** spread req/s / single req/s. */
  ratio: number
  /** Redis while the benchmark sent nothing, just before: other clients of a shared Redis show here. */
  idle: { redisCores: number; commandsPerSecond: number }
}

// Redis counts a command a script runs under its own name as well (and inside the script's usec):
// when scripts ran, the other commands are taken as theirs, not sent by a client. In these
// scenarios the service sends either scripts (refresh) or plain commands (protected, verify).
const SCRIPTS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro'])
// Our own readings.
const OURS = new Set(['info'])

interface Snapshot {
  cpu: number
  main: number | null
  commands: Record<string, { calls: number; usec: number }>
}

function fields (info: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const line of info.split(/\r?\n/)) {
    const at = line.indexOf(':')
    if (at > 0 && !line.startsWith('#')) out.set(line.slice(0, at), line.slice(at + 1).trim())
  }
  return out
}

async function snapshot (redis: Redis): Promise<Snapshot> {
  const cpu = fields(await redis.info('cpu'))
  const stats = fields(await redis.info('commandstats'))
  const n = (k: string) => Number(cpu.get(k) ?? NaN)
  const main = n('used_cpu_sys_main_thread') + n('used_cpu_user_main_thread')
  const commands: Snapshot['commands'] = {}
  for (const [k, v] of stats) {
    if (!k.startsWith('cmdstat_')) continue
    const calls = Number(/calls=(\d+)/.exec(v)?.[1] ?? 0)
    const usec = Number(/(?:^|,)usec=(\d+)/.exec(v)?.[1] ?? 0)
    commands[k.slice('cmdstat_'.length)] = { calls, usec }
  }
  return { cpu: n('used_cpu_sys') + n('used_cpu_user'), main: Number.isFinite(main) ? main : null, commands }
}

function delta (a: Snapshot, b: Snapshot): Pick<Usage, 'redisCpu' | 'redisMainThreadCpu' | 'commands'> {
  const commands: Usage['commands'] = {}
  for (const [name, after] of Object.entries(b.commands)) {
    if (OURS.has(name)) continue
    const before = a.commands[name] ?? { calls: 0, usec: 0 }
    const calls = after.calls - before.calls
    // A CONFIG RESETSTAT in between would make these negative: left out rather than trusted.
    if (calls > 0) commands[name] = { calls, usec: Math.max(0, after.usec - before.usec) }
  }
  return { redisCpu: b.cpu - a.cpu, redisMainThreadCpu: a.main === null || b.main === null ? null : b.main - a.main, commands }
}

export function addUsage (a: Usage, b: Usage): Usage {
  const plus = (x: number | null, y: number | null) => (x === null || y === null ? null : x + y)
  const commands = { ...a.commands }
  for (const [name, c] of Object.entries(b.commands)) {
    const known = commands[name] ?? { calls: 0, usec: 0 }
    commands[name] = { calls: known.calls + c.calls, usec: known.usec + c.usec }
  }
  return {
    seconds: a.seconds + b.seconds,
    redisCpu: a.redisCpu + b.redisCpu,
    redisMainThreadCpu: plus(a.redisMainThreadCpu, b.redisMainThreadCpu),
    commands,
    serviceCpu: plus(a.serviceCpu, b.serviceCpu),
    generatorCpu: plus(a.generatorCpu, b.generatorCpu),
    machineCpu: plus(a.machineCpu, b.machineCpu)
  }
}

/** Runs `run` between two readings of Redis and of the processes' CPU. */
async function measured<T> (redis: Redis, servicePids: number[], run: () => Promise<T>): Promise<{ value: T; usage: Usage }> {
  const cpu0 = { service: cpuSeconds(servicePids), generator: cpuSeconds([process.pid]) }
  const r0 = await snapshot(redis)
  const t0 = performance.now()
  const value = await run()
  const seconds = (performance.now() - t0) / 1000
  const r1 = await snapshot(redis)
  const cpu1 = { service: cpuSeconds(servicePids), generator: cpuSeconds([process.pid]) }
  const spent = (k: 'service' | 'generator', what: 'pids' | 'machine') => {
    const a = cpu0[k]
    const b = cpu1[k]
    return a && b ? b[what] - a[what] : null
  }
  return {
    value,
    usage: { seconds, ...delta(r0, r1), serviceCpu: spent('service', 'pids'), generatorCpu: spent('generator', 'pids'), machineCpu: spent('service', 'machine') }
  }
}

export function redisFigures (u: Usage, requests: number): RedisFigures {
  const per = (n: number) => n / Math.max(1, requests)
  const names = Object.keys(u.commands)
  const insideScripts = names.some((n) => SCRIPTS.has(n))
  const sent = names.filter((n) => !insideScripts || SCRIPTS.has(n))
  return {
    cores: u.redisCpu / u.seconds,
    mainThreadCores: u.redisMainThreadCpu === null ? null : u.redisMainThreadCpu / u.seconds,
    commandsPerRequest: per(sent.reduce((n, c) => n + u.commands[c]!.calls, 0)),
    perCommand: Object.fromEntries(
      names.sort((a, b) => u.commands[b]!.calls - u.commands[a]!.calls).map((n) => [n, Number(per(u.commands[n]!.calls).toFixed(3))])
    ),
    insideScripts,
    commandUsecPerRequest: per(sent.reduce((n, c) => n + u.commands[c]!.usec, 0)),
    cpuUsecPerRequest: per(u.redisCpu * 1e6)
  }
}

/**
 * One scenario on targets[0] alone, then on all targets, each counted run measured. They
 * alternate (1 N N 1 ...) over opts.rounds shorter runs, as protected and verify do in the main
 * table, refresh included here: on a shared VM the cost of the same request drifts by a third
 * within seconds (Redis's own usec per call with it), and a ratio of two runs would carry that.
 */
export async function scaleOut (
  name: ScaledScenario,
  targets: Target[],
  users: BenchUser[],
  ctx: { redisUrl: string; servicePids: number[]; ourPids: number[]; say: (line: string) => void }
): Promise<ScalingReport> {
  const redis = new Redis(ctx.redisUrl, { lazyConnect: true })
  await redis.connect()
  try {
    // A second of nothing from us first: what other clients of this Redis add to the figures.
    const quiet = await measured(redis, ctx.servicePids, () => sleep(1000))
    const idleCalls = Object.values(quiet.usage.commands).reduce((n, c) => n + c.calls, 0)
    const idle = { redisCores: quiet.usage.redisCpu / quiet.usage.seconds, commandsPerSecond: idleCalls / quiet.usage.seconds }

    const rounds = opts.rounds
    const duration = (name === 'refresh' ? opts.refreshDuration : opts.duration) / rounds
    type Measured = { total: LoadResult; instances: LoadResult[]; usage: Usage; other: number | null }
    const sides: Record<'1' | 'N', Measured[]> = { 1: [], N: [] }
    for (let r = 0; r < rounds; r++) {
      for (const side of r % 2 === 0 ? (['1', 'N'] as const) : (['N', '1'] as const)) {
        const group = side === '1' ? targets.slice(0, 1) : targets
        ctx.say(`${name}: ${group.length} instance${group.length > 1 ? 's' : ''}${rounds > 1 ? ` (round ${r + 1} of ${rounds})` : ''}...`)
        const got: { usage?: Usage; other?: number | null } = {}
        const result = await spread(name, group, users, duration, async (run) => {
          const mark = cpuMark(ctx.ourPids)
          const m = await measured(redis, ctx.servicePids, run)
          got.usage = m.usage
          got.other = otherCores(mark, ctx.ourPids)
          return m.value
        })
        sides[side].push({ ...result, usage: got.usage!, other: got.other ?? null })
      }
    }
    const summarize = (runs: Measured[], instances: number): ScalingRun => {
      const load = merge(runs.map((r) => r.total))
      const usage = runs.map((r) => r.usage).reduce(addUsage)
      const per = (s: number | null) => (s === null ? null : s / usage.seconds)
      const others = runs.map((r) => r.other)
      return {
        instances,
        load,
        perInstance: Array.from({ length: instances }, (_, k) => merge(runs.map((r) => r.instances[k]!))),
        usage,
        redis: redisFigures(usage, load.requests),
        serviceCores: per(usage.serviceCpu),
        serviceUsecPerRequest: usage.serviceCpu === null ? null : (usage.serviceCpu * 1e6) / Math.max(1, load.requests),
        generatorCores: per(usage.generatorCpu),
        machineCores: per(usage.machineCpu),
        otherCpu: others.includes(null) ? null : Number(((others as number[]).reduce((a, b) => a + b, 0) / others.length).toFixed(2))
      }
    }
    const single = summarize(sides['1'], 1)
    const many = summarize(sides.N, targets.length)
    return { name, single, spread: many, ratio: single.load.rps > 0 ? many.load.rps / single.load.rps : 0, idle }
  } finally {
    redis.disconnect()
  }
}
