// The chosen scenarios (--only), each on the service and on the baseline in the same run, with
// the machine's load average and the CPU of other work during each (bench/cpu.ts).
import { loadavg } from 'node:os'
import { cpuMark, otherCores } from './cpu.js'
import type { LoadResult } from './load.js'
import { opts, SCENARIOS } from './options.js'
import type { ScenarioReport } from './report.js'
import { merge, revokeUnderLoad, scenario, type BenchUser, type Target } from './scenarios.js'
import { HitRate } from './liveness.js'

export interface Targets {
  service: Target
  baseline: Target
  /** The baseline without the store (protected, verify): the ceiling of a cached check. */
  ceiling?: Target
  /** The service with its sessions in PostgreSQL, started when first asked for. */
  databaseStore: () => Promise<Target>
}

export async function compare (targets: Targets, users: BenchUser[], pids: number[], say: (line: string) => void): Promise<ScenarioReport[]> {
  const { service, baseline: base } = targets
  const results: ScenarioReport[] = []
  for (const name of SCENARIOS) {
    if (!opts.only.has(name)) continue
    const hits = new HitRate()
    if (name === 'protected-db' || name === 'refresh-db') {
      const kind = name === 'protected-db' ? 'protected' : 'refresh'
      const load = Number(loadavg()[0]!.toFixed(2))
      const target = await targets.databaseStore()
      say(`${kind}: service with sessions in PostgreSQL...`)
      const s = (await hits.around(target.url, () => scenario(kind, target, users, opts.duration))) as LoadResult
      // Next to the Redis store's figure of this run, when it ran.
      const onRedis = results.find((r) => r.name === kind)?.service as LoadResult | undefined
      results.push({ name, service: s, baseline: onRedis ?? null, loadAverage: load, otherCpu: null, hitRate: hits.rate })
      continue
    }
    if (name === 'revoke') {
      const load = Number(loadavg()[0]!.toFixed(2))
      say('revoke: protected load on the service while sessions are revoked...')
      const run = await hits.around(service.url, () => revokeUnderLoad(service, users))
      const alone = results.find((r) => r.name === 'protected')?.service as LoadResult | undefined
      results.push({ name, service: run.load, baseline: alone ?? null, revoked: run.revoked, stale: run.stale, loadAverage: load, otherCpu: null, hitRate: hits.rate })
      continue
    }
    const load = Number(loadavg()[0]!.toFixed(2))
    const mark = cpuMark(pids)
    const other = () => {
      const cores = otherCores(mark, pids)
      return cores === null ? null : Number(cores.toFixed(2))
    }
    if ((name === 'protected' || name === 'verify' || name === 'refresh') && opts.rounds > 1) {
      // Service and baselines alternate (S B C, C B S ...) in shorter runs, so a change in the
      // load of a shared machine falls on all alike. Refresh has no ceiling (a rotation needs the
      // store); each of its rounds starts fresh sessions.
      const runs = { service: [] as LoadResult[], baseline: [] as LoadResult[], ceiling: [] as LoadResult[] }
      const order = [service, base, ...(targets.ceiling && name !== 'refresh' ? [targets.ceiling] : [])]
      const duration = (name === 'refresh' ? opts.refreshDuration : opts.duration) / opts.rounds
      for (let r = 0; r < opts.rounds; r++) {
        for (const t of r % 2 === 0 ? order : [...order].reverse()) {
          say(`${name}: ${t.kind} (round ${r + 1} of ${opts.rounds})...`)
          const run = () => scenario(name, t, users, duration)
          runs[t.kind].push((await (t.kind === 'service' ? hits.around(t.url, run) : run())) as LoadResult)
        }
      }
      const ceiling = runs.ceiling.length > 0 ? { ceiling: merge(runs.ceiling) } : {}
      results.push({ name, service: merge(runs.service), baseline: merge(runs.baseline), ...ceiling, loadAverage: load, otherCpu: other(), hitRate: hits.rate })
      continue
    }
    say(`${name}: service...`)
    const s = await hits.around(service.url, () => scenario(name, service, users))
    say(`${name}: baseline...`)
    const b = await scenario(name, base, users)
    results.push({ name, service: s, baseline: b, loadAverage: load, otherCpu: other(), hitRate: hits.rate } as ScenarioReport)
  }
  return results
}
