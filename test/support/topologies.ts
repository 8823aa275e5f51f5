// The Redis topologies every test run has besides the shared single Redis: a Cluster of three
// masters and a master + replica behind a Sentinel, both of the run's own. tap starts them once
// per run (package.json "before": topologies-before.ts) in a keeper process that stops them when
// the run ends, however it ends; test files read where they are from a state file. The fault test
// that fails a master over starts a Sentinel of its own instead (it would disturb the others).
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface Topologies {
  /** The keeper process: SIGTERM stops the servers. */
  keeper: number
  cluster: { seeds: string }
  sentinel: { sentinels: string; name: string }
}

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)))
/** One state file per checkout, so two checkouts' runs never meet. */
export const STATE_FILE = join(tmpdir(), `auth-test-topologies-${createHash('sha256').update(root).digest('hex').slice(0, 12)}.json`)

/** The running topologies, or null when this run has none (a test file run without tap). */
export function readTopologies (): Topologies | null {
  try {
    const state = JSON.parse(readFileSync(STATE_FILE, 'utf8')) as Topologies & { error?: string }
    if (state.error) throw new Error(`the Redis topologies did not start: ${state.error}`)
    process.kill(state.keeper, 0)
    return state
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ESRCH') return null
    throw err
  }
}
