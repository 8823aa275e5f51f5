// What bcrypt costs on this machine: the bound of the login scenario.
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import bcrypt from 'bcryptjs'
import { Piscina } from 'piscina'
import { distRoot } from './options.js'

/** One bcrypt compare at `cost` on this machine, ms (the median of three). */
export function bcryptCompareMs (cost: number): number {
  const hash = bcrypt.hashSync('benchmark-password', cost)
  bcrypt.compareSync('benchmark-password', hash)
  const times: number[] = []
  for (let i = 0; i < 3; i++) {
    const t = performance.now()
    bcrypt.compareSync('benchmark-password', hash)
    times.push(performance.now() - t)
  }
  return times.sort((a, b) => a - b)[1]!
}

/**
 * What bcrypt alone can do here: compares per second through a pool of one worker per core (the
 * service's own worker module), nothing else running. Below cores / compare time when the cores
 * are not fully independent (shared caches, SMT, a hypervisor).
 */
export async function bcryptPoolRate (cost: number): Promise<number> {
  const hash = bcrypt.hashSync('benchmark-password', cost)
  const threads = availableParallelism()
  const pool = new Piscina({ filename: join(distRoot, 'plugins', 'app', 'passwords', 'worker.js'), minThreads: threads, maxThreads: threads })
  try {
    const task = { op: 'compare', password: 'benchmark-password', hash }
    await Promise.all(Array.from({ length: threads }, () => pool.run(task)))
    const n = threads * 6
    const t = performance.now()
    await Promise.all(Array.from({ length: n }, () => pool.run(task)))
    return n / ((performance.now() - t) / 1000)
  } finally {
    await pool.destroy()
  }
}
