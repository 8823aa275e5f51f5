// Keeps the run's Redis Cluster and Sentinel (topologies.ts) while the tap run that asked for
// them lives: started detached by topologies-before.ts, it writes the state file, then stops the
// servers and removes it on SIGTERM (topologies-after.ts) or as soon as the run's process is gone.
import { rmSync, writeFileSync } from 'node:fs'
import { startRedisCluster, startRedisSentinel, type OwnCluster, type OwnSentinel } from './servers.js'
import { STATE_FILE, type Topologies } from './topologies.js'

const runPid = Number(process.argv[2])
let cluster: OwnCluster | undefined
let sentinel: OwnSentinel | undefined
let stopping = false

async function stop (code: number): Promise<never> {
  if (!stopping) {
    stopping = true
    rmSync(STATE_FILE, { force: true })
    await Promise.allSettled([cluster?.destroy(), sentinel?.destroy()])
  }
  process.exit(code)
}

process.on('SIGTERM', () => { void stop(0) })
process.on('SIGINT', () => { void stop(0) })
const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
setInterval(() => {
  if (!alive(runPid)) void stop(0)
}, 1_000)

try {
  ;[cluster, sentinel] = await Promise.all([startRedisCluster(3), startRedisSentinel()])
  const state: Topologies = {
    keeper: process.pid,
    cluster: { seeds: cluster.seeds },
    sentinel: { sentinels: sentinel.sentinels, name: sentinel.name }
  }
  writeFileSync(STATE_FILE, JSON.stringify(state))
} catch (err) {
  writeFileSync(STATE_FILE, JSON.stringify({ keeper: process.pid, error: (err as Error).message }))
  await stop(1)
}
