// What tests read of an app's liveness cache (its metrics, as a scrape reads them), and a small
// HTTP client for apps listening on a real socket: a revocation's notice travels between
// processes' sockets, so the request that must see it goes over one too.
import type { FastifyInstance } from 'fastify'
import { until } from './servers.js'

export interface LivenessState {
  hit: number
  miss: number
  bypass: number
  invalidations: number
  flushes: number
  entries: number
  confirmed: boolean
}

export async function liveness (app: FastifyInstance): Promise<LivenessState> {
  const value = async (name: string, label?: string) => {
    const metric = app.metrics.registry.getSingleMetric(name)
    if (!metric) throw new Error(`no metric ${name}`)
    const { values } = await metric.get()
    return values.find((v) => label === undefined || v.labels.result === label)?.value ?? 0
  }
  return {
    hit: await value('auth_liveness_cache_lookups_total', 'hit'),
    miss: await value('auth_liveness_cache_lookups_total', 'miss'),
    bypass: await value('auth_liveness_cache_lookups_total', 'bypass'),
    invalidations: await value('auth_liveness_cache_invalidations_total'),
    flushes: await value('auth_liveness_cache_flushes_total'),
    entries: await value('auth_liveness_cache_entries'),
    confirmed: (await value('auth_liveness_cache_confirmed')) === 1
  }
}

/** Resolves once the app's invalidation channel is confirmed (the cache answers). */
export const confirmed = (app: FastifyInstance, ms = 15_000) => until('the liveness cache confirmed', async () => (await liveness(app)).confirmed, ms)

export interface Http {
  (method: string, path: string, opts?: { access?: string; body?: unknown }): Promise<{ status: number; json: () => Record<string, unknown> }>
}

/** Listens on a loopback port and returns a client for it (keep-alive, as a load balancer's). */
export async function overHttp (app: FastifyInstance): Promise<Http> {
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  return async (method, path, { access, body } = {}) => {
    const res = await fetch(base + path, {
      method,
      headers: { ...(access ? { authorization: `Bearer ${access}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await res.text()
    return { status: res.status, json: () => JSON.parse(text) as Record<string, unknown> }
  }
}
