// tap's "before": starts the keeper of the run's Redis Cluster and Sentinel (topologies.ts) and
// waits until they serve. TEST_REDIS_TOPOLOGIES=0 skips them (a quicker local run: the route
// and contract suites then run on the single Redis and PGlite only).
import { spawn } from 'node:child_process'
import { openSync, readFileSync, rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { STATE_FILE } from './topologies.js'

if (process.env.TEST_REDIS_TOPOLOGIES === '0') process.exit(0)

// A keeper left by an earlier run that was killed outright: stop it first.
try {
  const old = JSON.parse(readFileSync(STATE_FILE, 'utf8')) as { keeper: number }
  process.kill(old.keeper, 'SIGTERM')
} catch {}
rmSync(STATE_FILE, { force: true })

const log = openSync(`${STATE_FILE}.log`, 'w')
const keeper = spawn(process.execPath, [...process.execArgv, fileURLToPath(new URL('./topologies-keeper.ts', import.meta.url)), String(process.ppid)], {
  detached: true,
  stdio: ['ignore', log, log]
})
keeper.unref()

const end = Date.now() + 90_000
while (Date.now() < end) {
  let state: { error?: string } | null = null
  try {
    state = JSON.parse(readFileSync(STATE_FILE, 'utf8')) as { error?: string }
  } catch {}
  if (state?.error) {
    console.error(`the Redis Cluster and Sentinel did not start: ${state.error} (log: ${STATE_FILE}.log)`)
    process.exit(1)
  }
  if (state) process.exit(0)
  if (keeper.exitCode !== null) break
  await new Promise((resolve) => setTimeout(resolve, 100))
}
console.error(`the Redis Cluster and Sentinel did not start in time (log: ${STATE_FILE}.log)`)
process.exit(1)
