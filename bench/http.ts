// HTTP helpers for setting up load (registering users, starting sessions); the load itself is
// autocannon. Free of the benchmark's options, so scripts/metrics-plot.ts uses them too.

export async function post<T> (base: string, path: string, body: unknown, expect = 200): Promise<T> {
  const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const text = await res.text()
  if (res.status !== expect) {
    const hint = res.status === 429 ? ' (rate limited: start the service with RATE_LIMIT_ENABLED=false)' : ''
    throw new Error(`POST ${path}: ${res.status} ${text.slice(0, 300)}${hint}`)
  }
  return JSON.parse(text) as T
}

export async function inBatches<T> (count: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      while (next < count) {
        const i = next++
        out[i] = await fn(i)
      }
    })
  )
  return out
}
