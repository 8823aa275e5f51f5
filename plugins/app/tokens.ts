// The JWT signer (`fastify.tokens`): signing and verification of access and refresh tokens with @fastify/jwt, the key set
// (current key plus old keys kept for verification during a rotation, chosen by `kid`), and the
// JWKS document. Nothing else: protected routes are guarded by the auth plugin.
import { createHash, createPublicKey, type JsonWebKey } from 'node:crypto'
import fastifyJwt from '@fastify/jwt'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { JwtAlgorithm } from './config/index.js'
import { newId } from './ids.js'

export type TokenType = 'access' | 'refresh'

/** SimpleJWT-compatible claims, plus `sid` (the session the token belongs to). */
export interface TokenClaims {
  token_type: TokenType
  user_id: string
  jti: string
  sid: string
  iat: number
  exp: number
  iss?: string
  aud?: string
  /** How the user signed in (RFC 8176): ["pwd"], ["pwd", "otp", "mfa"], ["hwk", "mfa"]. Absent from tokens made before it existed. */
  amr?: string[]
  /** When the user signed in (s), the session's start: kept through refreshes. */
  auth_time?: number
}

/** How a session's user signed in, carried by every token of the session (claims amr and auth_time). */
export interface SignIn {
  amr: readonly string[]
  auth_time: number
}

/** The sign-in a token's claims record; a token made before the claims existed signed in with a password, at the latest when it was issued. */
export const signInOf = (claims: TokenClaims): SignIn => ({
  amr: Array.isArray(claims.amr) ? claims.amr : ['pwd'],
  auth_time: typeof claims.auth_time === 'number' ? claims.auth_time : claims.iat
})

export interface Tokens {
  /** The kid of the signing key. */
  readonly kid: string
  signAccess(userId: string, sid: string, nowSeconds: number, signIn: SignIn): string
  /** Deterministic for HS256/RS256/EdDSA: the same claims give the same token string. */
  signRefresh(userId: string, sid: string, refresh: { jti: string; iat: number; exp: number }, signIn: SignIn): string
  /** Signature, algorithm, kid, expiry, issuer and audience; null when any of them is wrong. */
  verify(token: string): TokenClaims | null
  newId(): string
  jwks(): { keys: JsonWebKey[] }
}

declare module 'fastify' {
  interface FastifyInstance {
    tokens: Tokens
  }
}

/** How far in the future a token's iat may lie (clocks of different machines disagree a little). */
export const IAT_SKEW_SECONDS = 30

function deriveKid (algorithm: JwtAlgorithm, verifyKey: string): string {
  if (algorithm === 'HS256') {
    // A fingerprint of a >= 32 byte random secret reveals nothing useful about it.
    return 'hs-' + createHash('sha256').update(verifyKey).digest('base64url').slice(0, 12)
  }
  // RFC 7638 thumbprint of the public key.
  const jwk = createPublicKey(verifyKey).export({ format: 'jwk' }) as Record<string, string>
  const members = jwk.kty === 'RSA' ? { e: jwk.e, kty: jwk.kty, n: jwk.n } : jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url').slice(0, 16)
}

/**
 * One part of a JWT (0: header, 1: payload) decoded WITHOUT verifying anything: for picking the
 * verification key by the header's `kid`. null when it is not a JSON object.
 */
export function decodeSegment (token: string, index: 0 | 1): Record<string, unknown> | null {
  const part = token.split('.', index + 1)[index]
  if (!part) return null
  try {
    const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null
  } catch {
    return null
  }
}

function isClaims (p: unknown): p is TokenClaims {
  if (typeof p !== 'object' || p === null) return false
  const c = p as Record<string, unknown>
  return (
    (c.token_type === 'access' || c.token_type === 'refresh') &&
    typeof c.user_id === 'string' &&
    typeof c.jti === 'string' &&
    typeof c.sid === 'string' &&
    typeof c.iat === 'number' &&
    typeof c.exp === 'number'
  )
}

export default fp(
  async (fastify: FastifyInstance) => {
    const { jwt: jwtConfig, accessTokenTtl } = fastify.config
    const { algorithm, issuer, audience } = jwtConfig
    const kid = jwtConfig.kid || deriveKid(algorithm, jwtConfig.verifyKey)

    const verifyOptions = {
      // Only the configured algorithm: `none`, HS256-with-a-public-key and every other
      // algorithm are refused (no algorithm confusion).
      algorithms: [algorithm],
      ...(issuer ? { allowedIss: issuer } : {}),
      ...(audience ? { allowedAud: audience } : {}),
      // A configured issuer or audience is required, not only checked when present: a token
      // without the claim is refused like one with a wrong value.
      requiredClaims: ['exp', 'iat', 'jti', ...(issuer ? ['iss'] : []), ...(audience ? ['aud'] : [])]
    }
    await fastify.register(fastifyJwt, {
      secret: algorithm === 'HS256' ? jwtConfig.signingKey : { private: jwtConfig.signingKey, public: jwtConfig.verifyKey },
      // iat and exp come from our claims (fast-jwt keeps a given iat), so re-signing the same
      // claims gives the same token (grace interval).
      sign: { algorithm, kid },
      verify: verifyOptions
    })
    // One verifier per old key, registered as its own @fastify/jwt namespace.
    const verifiers = new Map<string, (token: string) => unknown>()
    verifiers.set(kid, (token) => fastify.jwt.verify(token))
    for (const [oldKid, key] of Object.entries(jwtConfig.previousKeys)) {
      if (oldKid === kid) continue
      const namespace = `kid_${createHash('sha256').update(oldKid).digest('hex').slice(0, 12)}`
      await fastify.register(fastifyJwt, { secret: algorithm === 'HS256' ? key : { public: key }, namespace, verify: verifyOptions })
      const ns = (fastify.jwt as unknown as Record<string, { verify: (t: string) => unknown }>)[namespace]!
      verifiers.set(oldKid, (token) => ns.verify(token))
    }

    // The verifier a token's header names (its alg must be ours, its kid a known key). The few
    // headers this service writes are remembered, so a token's header is decoded once, not per
    // request; headers that name no verifier are never remembered (nobody can fill the memory).
    const byHeader = new Map<string, (token: string) => unknown>()
    const verifierOf = (token: string) => {
      const dot = token.indexOf('.')
      const segment = dot === -1 ? token : token.slice(0, dot)
      const known = byHeader.get(segment)
      if (known) return known
      const header = decodeSegment(token, 0)
      if (!header || header.alg !== algorithm || typeof header.kid !== 'string') return null
      const verify = verifiers.get(header.kid)
      if (!verify) return null
      // Any JSON spelling of a good header works; only so many are kept.
      if (byHeader.size < 64) byHeader.set(segment, verify)
      return verify
    }

    const extra = { ...(issuer ? { iss: issuer } : {}), ...(audience ? { aud: audience } : {}) }
    const tokens: Tokens = {
      kid,
      newId,
      signAccess (userId, sid, now, signIn) {
        return fastify.jwt.sign({
          token_type: 'access',
          user_id: userId,
          jti: newId(),
          sid,
          iat: now,
          exp: now + accessTokenTtl,
          amr: signIn.amr,
          auth_time: signIn.auth_time,
          ...extra
        })
      },
      signRefresh (userId, sid, r, signIn) {
        return fastify.jwt.sign({ token_type: 'refresh', user_id: userId, jti: r.jti, sid, iat: r.iat, exp: r.exp, amr: signIn.amr, auth_time: signIn.auth_time, ...extra })
      },
      verify (token) {
        if (typeof token !== 'string' || token.length > 4096) return null
        const verify = verifierOf(token)
        if (!verify) return null
        try {
          const payload = verify(token)
          // Issued in the future (beyond the clock skew allowed between machines): not ours to trust.
          return isClaims(payload) && payload.iat <= Date.now() / 1000 + IAT_SKEW_SECONDS ? payload : null
        } catch {
          return null
        }
      },
      jwks () {
        if (algorithm === 'HS256') return { keys: [] } // symmetric keys are never published
        const keys: JsonWebKey[] = []
        const publish = (k: string, pem: string) =>
          keys.push({ ...createPublicKey(pem).export({ format: 'jwk' }), kid: k, alg: algorithm, use: 'sig' })
        publish(kid, jwtConfig.verifyKey)
        for (const [oldKid, pem] of Object.entries(jwtConfig.previousKeys)) if (oldKid !== kid) publish(oldKid, pem)
        return { keys }
      }
    }
    fastify.decorate('tokens', tokens)
  },
  { name: 'tokens', dependencies: ['config'] }
)
