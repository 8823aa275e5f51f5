// Compares how long two kinds of request take, for the no-enumeration checks: no assertion on
// absolute time (machines differ), only whether the two fall in the same band. The runs are
// interleaved (a, b, a, b, ...) so that load on the machine hits both alike, and medians are
// compared, which one slow run cannot move.

export interface TimingComparison {
  a: { median: number; p10: number; p90: number }
  b: { median: number; p10: number; p90: number }
  /** Whether the medians are within `tolerance` of each other (see compareTimings). */
  same: boolean
  summary: string
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!

function stats (samples: number[]) {
  const s = [...samples].sort((x, y) => x - y)
  return { median: quantile(s, 0.5), p10: quantile(s, 0.1), p90: quantile(s, 0.9) }
}

/**
 * Runs `a` and `b` `rounds` times each, interleaved, and says whether their medians differ by no
 * more than half of the larger one's, or `floorMs`, whichever is more: the same band. A path
 * that does real extra work (a bcrypt hash, an awaited SMTP delivery: tens of milliseconds)
 * falls outside it.
 */
export async function compareTimings (a: () => Promise<unknown>, b: () => Promise<unknown>, rounds = 30, floorMs = 3): Promise<TimingComparison> {
  const ta: number[] = []
  const tb: number[] = []
  const time = async (fn: () => Promise<unknown>) => {
    const start = process.hrtime.bigint()
    await fn()
    return Number(process.hrtime.bigint() - start) / 1e6
  }
  // One of each first, not counted: code paths warm up.
  await a()
  await b()
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      ta.push(await time(a))
      tb.push(await time(b))
    } else {
      tb.push(await time(b))
      ta.push(await time(a))
    }
  }
  const sa = stats(ta)
  const sb = stats(tb)
  const tolerance = Math.max(floorMs, 0.5 * Math.max(sa.median, sb.median))
  const f = (x: number) => x.toFixed(2)
  return {
    a: sa,
    b: sb,
    same: Math.abs(sa.median - sb.median) <= tolerance,
    summary: `medians ${f(sa.median)} vs ${f(sb.median)} ms (p10-p90 ${f(sa.p10)}-${f(sa.p90)} vs ${f(sb.p10)}-${f(sb.p90)}), tolerance ${f(tolerance)} ms`
  }
}
