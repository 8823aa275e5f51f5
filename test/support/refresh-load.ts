// Refresh load for the fault tests: rotating chains (one session each) refreshed in a loop while
// a dependency fails under them; every answer is tallied, and each chain counts its rotations
// before and after the moment the test marks as "after" (the dependency back, the failover done).
import type { FastifyInstance } from 'fastify'
import { post } from '../helper.js'

export interface Chain {
  refresh: string
  access: string
  ok: number
  okAfter: number
}

export interface RefreshLoad {
  /** Answers by status. */
  statuses: Map<number, number>
  /** How long each 503 took, ms. */
  unavailable: number[]
  /** Answers other than 200 and 503: status and body. */
  unexpected: string[]
  /** From now on rotations count as after the event. */
  after(): void
  /** Waits until every chain rotated `n` times after the event, or `ms` passed; then stops the load. */
  settle(n: number, ms: number): Promise<void>
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export function refreshLoad (app: FastifyInstance, chains: Chain[]): RefreshLoad {
  const statuses = new Map<number, number>()
  const unavailable: number[] = []
  const unexpected: string[] = []
  let after = false
  // Set when the load ends, read by every chain's loop: a field, so each turn reads it anew.
  const state = { stop: false }
  const drive = async (chain: Chain) => {
    while (!state.stop) {
      const started = Date.now()
      const res = await post(app, '/api/token/refresh/', { refresh: chain.refresh })
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      if (res.statusCode === 200) {
        const pair = res.json() as { access: string; refresh: string }
        chain.refresh = pair.refresh
        chain.access = pair.access
        chain.ok++
        if (after) chain.okAfter++
      } else if (res.statusCode === 503) {
        unavailable.push(Date.now() - started)
        if (res.headers['retry-after'] !== '5') unexpected.push(`503 without Retry-After: 5 (${String(res.headers['retry-after'])})`)
        await sleep(20)
      } else {
        // This chain is broken: it stops, and the test reports it.
        unexpected.push(`${res.statusCode} ${res.body}`)
        return
      }
    }
  }
  const load = Promise.all(chains.map(drive))
  return {
    statuses,
    unavailable,
    unexpected,
    after: () => {
      after = true
    },
    async settle (n, ms) {
      const end = Date.now() + ms
      while (chains.some((c) => c.okAfter < n) && Date.now() < end) await sleep(100)
      state.stop = true
      await load
    }
  }
}
