// A warning that repeats (a dependency down, a client reconnecting) is logged once every few
// seconds with the count of the ones held back, instead of once per request or per retry.
import type { FastifyBaseLogger } from 'fastify'

const REPORT_INTERVAL = 5_000

/** One warning per key every `interval` ms, with how many were held back since the last one. */
export function throttledWarnings (log: FastifyBaseLogger, interval = REPORT_INTERVAL) {
  const seen = new Map<string, { at: number; held: number }>()
  return (key: string, fields: Record<string, unknown>, msg: string) => {
    const now = Date.now()
    const last = seen.get(key)
    if (last && now - last.at < interval) {
      last.held++
      return
    }
    seen.set(key, { at: now, held: 0 })
    log.warn({ ...fields, ...(last?.held ? { notLogged: last.held } : {}) }, msg)
  }
}
