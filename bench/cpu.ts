// How much CPU other work took while a scenario ran (the machines are shared): all busy CPU time
// (/proc/stat) minus that of the benchmark's own processes (this one, the service, the baseline,
// Redis). PostgreSQL's backends are counted as other work; they are idle except during logins.
// Linux only; elsewhere the figure is null.
import { readFileSync } from 'node:fs'

const TICKS = 100 // USER_HZ on Linux

function busyTicks (): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
  return cpu.reduce((a, b) => a + b, 0) - cpu[3]! - (cpu[4] ?? 0)
}

function pidTicks (pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(fields[11]) + Number(fields[12]) // utime + stime (fields 14 and 15)
  } catch {
    return 0
  }
}

export interface CpuMark {
  at: number
  busy: number
  ours: number
}

export function cpuMark (pids: number[]): CpuMark | null {
  try {
    return { at: performance.now(), busy: busyTicks(), ours: pids.reduce((n, pid) => n + pidTicks(pid), 0) }
  } catch {
    return null
  }
}

/** Cores' worth of CPU used by other work between the mark and now. */
export function otherCores (mark: CpuMark | null, pids: number[]): number | null {
  const now = cpuMark(pids)
  if (!mark || !now) return null
  const seconds = (now.at - mark.at) / 1000
  const other = (now.busy - mark.busy - (now.ours - mark.ours)) / TICKS
  return Math.max(0, other / seconds)
}

/**
 * CPU seconds so far: of the given processes, and of the whole machine (all cores busy). For
 * cores' worth used by each side during a run (bench/scaling.ts). null where /proc is missing.
 */
export function cpuSeconds (pids: number[]): { pids: number; machine: number } | null {
  try {
    return { pids: pids.reduce((n, pid) => n + pidTicks(pid), 0) / TICKS, machine: busyTicks() / TICKS }
  } catch {
    return null
  }
}
