// The public keys that verify our tokens (RS256/ES256/EdDSA), current and previous, by kid.
import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import { describe } from '../responses.js'

const JwksSchema = Type.Object({
  keys: Type.Array(Type.Object({ kid: Type.String(), kty: Type.String(), alg: Type.String(), use: Type.String() }, { additionalProperties: true }))
})

export default async function wellKnownRoutes(fastify: FastifyInstance) {
  fastify.get('/jwks.json', {
    schema: {
      tags: ['tokens'],
      summary: 'JSON Web Key Set',
      description: 'Public keys for verifying tokens, by kid, including old keys kept during a rotation. Empty with HS256 (a shared secret is never published).',
      response: { 200: describe(JwksSchema, 'The key set.') }
    },
    handler: async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300')
      return fastify.tokens.jwks()
    }
  })
}
