// Liveness (the process answers) and readiness (database and token store reachable).
import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import { describe } from '../responses.js'

const Check = Type.Union([Type.Literal('ok'), Type.Literal('unavailable')])
const ReadySchema = Type.Object({ status: Check, database: Check, token_store: Check })

export default async function healthRoutes(fastify: FastifyInstance) {
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
    handler: async (request, reply) => {
      const probe = (p: Promise<unknown>) =>
        Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), fastify.config.timeouts.dependency).unref())]).then(
          () => 'ok' as const,
          (err: Error) => {
            request.log.warn({ err: { message: err.message } }, 'readiness check failed')
            return 'unavailable' as const
          }
        )
      const [database, tokenStore] = await Promise.all([probe(fastify.dbPing()), probe(fastify.tokenStore.ping())])
      const ok = database === 'ok' && tokenStore === 'ok'
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', database, token_store: tokenStore })
    }
  })
}
