// The public keys that verify our tokens (RS256/ES256/EdDSA), current and previous, by kid.
import type { RouteInstance } from '../typed.js'
import Type from 'typebox'
import { describe } from '../responses.js'

const JwksSchema = Type.Object({
  keys: Type.Array(Type.Object({ kid: Type.String(), kty: Type.String(), alg: Type.String(), use: Type.String() }, { additionalProperties: true }))
})

export default async function wellKnownRoutes (fastify: RouteInstance) {
  fastify.get('/jwks.json', {
    schema: {
      tags: ['tokens'],
      summary: 'JSON Web Key Set',
      operationId: 'jwks',
      description: 'Public keys for verifying tokens, by kid, including old keys kept during a rotation. Empty with HS256 (a shared secret is never published).',
      response: {
        200: describe(JwksSchema, 'The key set.', {
          hs256: { summary: 'HS256 (nothing to publish)', value: { keys: [] } },
          rs256: {
            summary: 'RS256, during a key rotation',
            value: {
              keys: [
                { kid: 'rs-2024-06', kty: 'RSA', alg: 'RS256', use: 'sig', n: 'u1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0_IzW7yWR7QkrmBL7jTKEn5u-qKhbwKfBstIs-bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW_VDL5AaWTg0nLVkjRo9z-40RQzuVaE8AkAFmxZzow3x-VJYKdjykkJ0iT9wCS0DRTXu269V264Vf_3jvredZiKRkgwlL9xNAwxXFg0x_XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC-9aGVd-Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmw', e: 'AQAB' },
                { kid: 'rs-2024-01', kty: 'RSA', alg: 'RS256', use: 'sig', n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw', e: 'AQAB' }
              ]
            }
          }
        })
      }
    },
    handler: async (_request, reply) => {
      // Public keys are meant to be cached (every other answer is no-store).
      reply.header('cache-control', 'public, max-age=300').removeHeader('pragma')
      return fastify.tokens.jwks()
    }
  })
}
