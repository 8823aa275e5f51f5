// tap's "after": stops the run's Redis Cluster and Sentinel (the keeper would also notice the
// run is gone, within a second).
import { readFileSync } from 'node:fs'
import { STATE_FILE } from './topologies.js'

try {
  const { keeper } = JSON.parse(readFileSync(STATE_FILE, 'utf8')) as { keeper: number }
  process.kill(keeper, 'SIGTERM')
  const end = Date.now() + 15_000
  while (Date.now() < end) {
    process.kill(keeper, 0)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
} catch {
  // no state file, or the keeper is gone: nothing left to stop
}
