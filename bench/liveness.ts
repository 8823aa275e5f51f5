// The service's liveness cache as the benchmark sees it: its lookups counted from /metrics (the
// bench runs on localhost, which METRICS_ALLOW admits), so each run reports its hit rate.

export interface Lookups {
  hit: number
  miss: number
  bypass: number
}

/** The cache's lookups so far; null when the service has no cache (or no metrics). */
export async function lookups (url: string): Promise<Lookups | null> {
  const res = await fetch(`${url}/metrics`).catch(() => null)
  if (!res || res.status !== 200) return null
  const text = await res.text()
  const count = (result: string) => Number(new RegExp(`^auth_liveness_cache_lookups_total\\{result="${result}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN)
  const found = { hit: count('hit'), miss: count('miss'), bypass: count('bypass') }
  return Number.isNaN(found.hit) ? null : found
}

/** Sums the lookups of several runs, measured as before/after pairs. */
export class HitRate {
  #hit = 0
  #total = 0

  async around<T> (url: string, run: () => Promise<T>): Promise<T> {
    const before = await lookups(url)
    const result = await run()
    const after = await lookups(url)
    if (before && after) {
      this.#hit += after.hit - before.hit
      this.#total += after.hit - before.hit + (after.miss - before.miss) + (after.bypass - before.bypass)
    }
    return result
  }

  /** Share of the checks answered from memory; null if none was counted. */
  get rate (): number | null {
    return this.#total > 0 ? this.#hit / this.#total : null
  }
}
