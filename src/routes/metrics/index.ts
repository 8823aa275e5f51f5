// GET /metrics on the main port, for the addresses of METRICS_ALLOW (403 for the others). With
// METRICS_PORT set it is served there instead (plugins/external/metrics.ts) and not here.
import type { RouteInstance } from '../typed.js'
import { ApiError } from '../../../plugins/app/errors.js'
import { describe } from '../responses.js'
import Type from 'typebox'

const EXAMPLE = `# HELP auth_events_total Auth events (the audit log's) by event and outcome
# TYPE auth_events_total counter
auth_events_total{event="login",outcome="success"} 12
auth_events_total{event="refresh",outcome="rotated"} 40
`

export default async function metricsRoutes (fastify: RouteInstance) {
  const { metrics } = fastify
  if (metrics.port !== null) return
  fastify.get('/', {
    schema: {
      tags: ['operations'],
      summary: 'Prometheus metrics',
      description:
        'Request latency and counts by route and status, auth events by outcome, token-store and database latency, dependency errors, the bcrypt pool, e-mail and the process, in the Prometheus text format. Served here only to the addresses of `METRICS_ALLOW` (default 127.0.0.1 and ::1); with `METRICS_PORT` set, on that port instead.',
      operationId: 'metrics',
      response: {
        200: { description: 'The metrics, in the Prometheus text exposition format 0.0.4.', content: { 'text/plain': { schema: { type: 'string' }, example: EXAMPLE } } },
        403: describe(Type.Ref('DetailError'), 'This client address is not in METRICS_ALLOW.', {
          forbidden: { summary: 'Not allowed', value: { detail: 'You do not have permission to perform this action.' } }
        })
      }
    },
    handler: async (request, reply) => {
      if (!metrics.allowed(request)) throw new ApiError(403, { detail: 'You do not have permission to perform this action.' })
      const text = await metrics.registry.metrics()
      return reply.type(metrics.registry.contentType).send(text)
    }
  })
}
