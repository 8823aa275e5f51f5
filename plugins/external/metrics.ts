// Prometheus metrics with prom-client: one registry per app (tests build many apps in one
// process), the process's default metrics, and every request's latency by method, route and
// status. Plugins add their own instruments to `fastify.metrics.registry`. /metrics is served on
// METRICS_PORT by a server of its own when set; otherwise the app serves it on the main port to
// the addresses of METRICS_ALLOW (src/routes/metrics).
import { createServer, type Server } from 'node:http'
import { BlockList, isIP } from 'node:net'
import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { FastHistogram, type HistogramSeries } from './histogram.js'

export interface Metrics {
  registry: Registry
  /** May this request read /metrics on the main port (METRICS_ALLOW)? */
  allowed(request: FastifyRequest): boolean
  /** The port /metrics is served on by a server of its own (METRICS_PORT), or null (the main port). */
  port: number | null
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

/** Seconds: from a cached protected request (about a millisecond) to a bcrypt login under load. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

function allowList (entries: string[]): BlockList {
  const list = new BlockList()
  for (const entry of entries) {
    const [address, bits] = entry.split('/') as [string, string | undefined]
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4'
    if (bits === undefined) list.addAddress(address, type)
    else list.addSubnet(address, Number(bits), type)
  }
  return list
}

/** An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d: checked as the IPv4 address. */
const plain = (ip: string) => (ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip)

export default fp(
  async (fastify) => {
    const { metrics: settings, trustProxy } = fastify.config
    const registry = new Registry()
    collectDefaultMetrics({ register: registry })

    const requests = new FastHistogram(
      'auth_http_request_duration_seconds',
      'HTTP requests by method, route (the route pattern; "unmatched" for unknown paths) and status: latency, and count (_count)',
      ['method', 'route', 'status'],
      LATENCY_BUCKETS,
      [registry]
    )
    // Series by label values, looked up by one string per request.
    const children = new Map<string, HistogramSeries>()
    fastify.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched'
      const key = `${request.method} ${route} ${reply.statusCode}`
      let series = children.get(key)
      if (!series) {
        series = requests.series(request.method, route, String(reply.statusCode))
        children.set(key, series)
      }
      series.observe(reply.elapsedTime / 1000)
      done()
    })

    const allow = allowList(settings.allow)
    const proxied = trustProxy === false
    const metrics: Metrics = {
      registry,
      port: settings.port,
      allowed (request) {
        // Without TRUST_PROXY a proxy's own address would stand for every client behind it: a
        // request that came through one (X-Forwarded-For) is refused.
        if (proxied && request.headers['x-forwarded-for'] !== undefined) return false
        const ip = plain(request.ip)
        return allow.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4')
      }
    }
    fastify.decorate('metrics', metrics)

    if (settings.port !== null) {
      const server: Server = createServer((req, res) => {
        if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
          res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' }).end('{"detail":"Not found."}')
          return
        }
        registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(text),
          (err: Error) => {
            fastify.log.error({ err: { message: err.message } }, 'metrics could not be collected')
            res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' }).end('{"detail":"Internal server error"}')
          }
        )
      })
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(settings.port!, fastify.config.host, () => resolve())
      })
      // METRICS_PORT=0 (tests): the port the system gave.
      metrics.port = (server.address() as { port: number }).port
      fastify.log.info({ port: metrics.port }, `metrics on http://${fastify.config.host}:${metrics.port}/metrics`)
      fastify.addHook('onClose', async () => {
        server.closeAllConnections()
        await new Promise<void>((resolve) => server.close(() => resolve()))
      })
    }
  },
  { name: 'metrics', dependencies: ['config'] }
)
