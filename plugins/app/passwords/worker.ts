// Runs in a piscina worker thread: bcrypt is pure CPU work (≈250 ms at cost 12), so it must
// never run on the event loop. Inside a worker the synchronous functions are the fastest;
// bcryptjs's async variants only chop the work into slices for a main thread.
import bcrypt from 'bcryptjs'

export type PasswordTask =
  | { op: 'hash'; password: string; cost: number }
  | { op: 'compare'; password: string; hash: string }
  /** `times` more compares against the hash: the work a wrong password skips on a cheaper, older hash. */
  | { op: 'harden'; password: string; hash: string; times: number }

/** The result, and when the worker took the task (ms since the epoch): the pool's queue wait is measured from it. */
export type PasswordResult = [value: string | boolean, startedAt: number]

export default function run (task: PasswordTask): PasswordResult {
  const startedAt = performance.timeOrigin + performance.now()
  switch (task.op) {
    case 'hash':
      return [bcrypt.hashSync(task.password, bcrypt.genSaltSync(task.cost)), startedAt]
    case 'compare':
      return [bcrypt.compareSync(task.password, task.hash), startedAt]
    case 'harden':
      for (let i = 0; i < task.times; i++) bcrypt.compareSync(task.password, task.hash)
      return [false, startedAt]
    default:
      throw new TypeError(`unknown password task: ${(task as { op?: unknown }).op}`)
  }
}
