// The JWT signing and verification keys: an HS256 secret (generated and kept in DATA_DIR for the
// embedded default only), or a PEM key pair for RS256, ES256 and EdDSA, plus the previous keys
// still accepted during a rotation.
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from './config-error.js'
import type { Env } from './env.js'
import type { Config } from './types.js'

const MIN_SECRET_BYTES = 32

function readKeyMaterial (name: string, value: string): string {
  // A PEM can be given inline (with literal \n) or as a path to a file.
  if (value.includes('-----BEGIN')) return value.replace(/\\n/g, '\n')
  try {
    return readFileSync(value, 'utf8')
  } catch {
    throw new ConfigError(`${name}: not a PEM key and not a readable file`)
  }
}

/**
 * A secret of the development defaults: generated once into DATA_DIR/`name` and kept, so that
 * restarts keep tokens valid (jwt-secret) and TOTP secrets readable (mfa-key).
 */
export function keptSecret (dataDir: string, name: string): string {
  const file = join(dataDir, name)
  try {
    const existing = readFileSync(file, 'utf8').trim()
    if (Buffer.byteLength(existing) >= MIN_SECRET_BYTES) return existing
  } catch {}
  mkdirSync(dataDir, { recursive: true })
  const secret = randomBytes(48).toString('base64url')
  writeFileSync(file, secret + '\n', { mode: 0o600 })
  return secret
}

/** The keys the settings give; `embedded` and `dataDir` as loadConfig worked them out. */
export function jwtKeys (
  env: Env,
  { production, embedded, dataDir }: { production: boolean; embedded: boolean; dataDir: string }
): Pick<Config['jwt'], 'signingKey' | 'verifyKey' | 'previousKeys'> {
  let signingKey: string
  let verifyKey: string
  if (env.JWT_ALGORITHM === 'HS256') {
    if (env.JWT_SECRET === undefined) {
      if (production) throw new ConfigError('JWT_SECRET: required in production (at least 32 bytes)')
      // Instances that share a database or Redis must share the key: each would invent its own
      // and refuse the others' tokens. Only the single-instance embedded default may make one.
      if (!embedded) {
        throw new ConfigError(
          'JWT_SECRET: required with DATABASE_URL or REDIS_URL (at least 32 bytes): instances sharing a store must sign with the same key'
        )
      }
      signingKey = keptSecret(dataDir, 'jwt-secret')
    } else {
      if (Buffer.byteLength(env.JWT_SECRET) < MIN_SECRET_BYTES) {
        throw new ConfigError(`JWT_SECRET: too short, at least ${MIN_SECRET_BYTES} bytes are needed`)
      }
      signingKey = env.JWT_SECRET
    }
    verifyKey = signingKey
  } else {
    if (!env.JWT_PRIVATE_KEY || !env.JWT_PUBLIC_KEY) {
      throw new ConfigError(`JWT_PRIVATE_KEY and JWT_PUBLIC_KEY: both required with JWT_ALGORITHM=${env.JWT_ALGORITHM}`)
    }
    signingKey = readKeyMaterial('JWT_PRIVATE_KEY', env.JWT_PRIVATE_KEY)
    verifyKey = readKeyMaterial('JWT_PUBLIC_KEY', env.JWT_PUBLIC_KEY)
  }

  const previousKeys: Record<string, string> = {}
  if (env.JWT_PREVIOUS_KEYS) {
    try {
      const parsed = JSON.parse(env.JWT_PREVIOUS_KEYS) as unknown
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error()
      for (const [kid, key] of Object.entries(parsed)) {
        if (typeof key !== 'string' || key === '') throw new Error()
        previousKeys[kid] = env.JWT_ALGORITHM === 'HS256' ? key : readKeyMaterial(`JWT_PREVIOUS_KEYS.${kid}`, key)
      }
    } catch (err) {
      if (err instanceof ConfigError) throw err
      throw new ConfigError('JWT_PREVIOUS_KEYS: must be a JSON object {"kid": "secret or PEM public key"}')
    }
  }

  return { signingKey, verifyKey, previousKeys }
}
