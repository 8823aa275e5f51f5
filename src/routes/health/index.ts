// Liveness (the process answers) and readiness (database and token store reachable).
import type { RouteInstance } from '../typed.js'
import Type from 'typebox'
import { describe } from '../responses.js'
import { DependencyError, type Dependency } from '../../../plugins/app/errors.js'

const Check = Type.Union([Type.Literal('ok'), Type.Literal('unavailable')])
const ReadySchema = Type.Object({ status: Check, database: Check, token_store: Check })

export default async function healthRoutes (fastify: RouteInstance) {
  fastify.get('/live', {
    schema: {
      tags: ['operations'],
      summary: 'Liveness',
      operationId: 'liveness',
      response: { 200: describe(Type.Object({ status: Type.Literal('ok') }), 'The process is up.', { ok: { value: { status: 'ok' } } }) }
    },
    handler: async () => ({ status: 'ok' as const })
  })

  fastify.get('/ready', {
    schema: {
      tags: ['operations'],
      summary: 'Readiness',
      operationId: 'readiness',
      response: {
        200: describe(ReadySchema, 'The database and the token store are reachable.', {
          ok: { value: { status: 'ok', database: 'ok', token_store: 'ok' } }
        }),
        503: describe(ReadySchema, 'The database or the token store (named) is unreachable.', {
          database: { summary: 'Database down', value: { status: 'unavailable', database: 'unavailable', token_store: 'ok' } }
        })
      }
    },
    handler: async (_request, reply) => {
      // A failed probe is an outage like any other: reported through the outages plugin, so a
      // balancer probing many times a second writes one warning per kind every few seconds.
      const probe = (p: Promise<unknown>, dependency: Dependency) => {
        const timedOut = new Error('no answer within DEPENDENCY_TIMEOUT')
        const timer = new Promise((_resolve, reject) => setTimeout(() => reject(timedOut), fastify.config.timeouts.dependency).unref())
        return Promise.race([p, timer]).then(
          () => 'ok' as const,
          (err: unknown) => {
            // The token store's guard made (and reported) this one already.
            if (!(err instanceof DependencyError)) {
              fastify.outages.report(new DependencyError(dependency, err === timedOut ? 'timeout' : 'down', { cause: err }))
            }
            return 'unavailable' as const
          }
        )
      }
      const [database, tokenStore] = await Promise.all([probe(fastify.dbPing(), 'database'), probe(fastify.tokenStore.ping(), 'token store')])
      const ok = database === 'ok' && tokenStore === 'ok'
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', database, token_store: tokenStore })
    }
  })
}
