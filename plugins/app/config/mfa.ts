// The second factor's settings: the issuer shown in authenticator apps, how recent a second
// factor must be for step-up, the keys that encrypt TOTP secrets at rest (MFA_ENCRYPTION_KEY) and
// the WebAuthn relying party.
import { ConfigError } from './config-error.js'
import type { Env } from './env.js'
import { keptSecret } from './jwt-keys.js'

const MIN_KEY_BYTES = 32

export interface MfaConfig {
  /** MFA_ISSUER: the name authenticator apps show beside the account. */
  issuer: string
  /** REAUTH_MAX_AGE (s): a second factor given this recently stands in for a step-up code. */
  reauthMaxAge: number
  /**
   * MFA_ENCRYPTION_KEY, comma-separated: the first key encrypts, every one decrypts (a key
   * rotation puts the new key first and keeps the old ones until every secret was re-encrypted).
   */
  encryptionKeys: string[]
  webauthn: {
    /** WEBAUTHN_RP_ID: the domain passkeys are bound to. */
    rpId: string
    rpName: string
    /** WEBAUTHN_ORIGINS: the origins whose ceremonies are accepted. */
    origins: string[]
  }
}

export function mfaConfig (
  env: Env,
  { production, embedded, dataDir, publicUrl }: { production: boolean; embedded: boolean; dataDir: string; publicUrl: string },
  warnings: string[]
): MfaConfig {
  let keys: string[]
  if (env.MFA_ENCRYPTION_KEY === undefined) {
    if (production) throw new ConfigError('MFA_ENCRYPTION_KEY: required in production (at least 32 bytes; it encrypts TOTP secrets)')
    if (!embedded) warnings.push('MFA_ENCRYPTION_KEY is not set: a key was generated into DATA_DIR; instances sharing a database must share one key (set MFA_ENCRYPTION_KEY)')
    keys = [keptSecret(dataDir, 'mfa-key')]
  } else {
    keys = env.MFA_ENCRYPTION_KEY.split(',').map((k) => k.trim()).filter((k) => k !== '')
    if (keys.length === 0) throw new ConfigError('MFA_ENCRYPTION_KEY: empty')
    for (const key of keys) {
      if (Buffer.byteLength(key) < MIN_KEY_BYTES) throw new ConfigError(`MFA_ENCRYPTION_KEY: a key is too short, at least ${MIN_KEY_BYTES} bytes are needed`)
    }
  }
  const publicOrigin = new URL(publicUrl).origin
  const origins = env.WEBAUTHN_ORIGINS === undefined ? [publicOrigin] : env.WEBAUTHN_ORIGINS.split(',').map((o) => o.trim()).filter((o) => o !== '')
  for (const origin of origins) {
    if (!URL.canParse(origin) || new URL(origin).origin !== origin) throw new ConfigError(`WEBAUTHN_ORIGINS: not an origin (scheme://host[:port]): ${origin}`)
  }
  const hostOf = (url: string) => new URL(url).hostname.replace(/^\[|\]$/g, '')
  const rpId = env.WEBAUTHN_RP_ID ?? hostOf(publicUrl)
  // Every allowed origin must be the relying party's domain or under it (WebAuthn refuses others anyway).
  for (const origin of origins) {
    const host = hostOf(origin)
    if (host !== rpId && !host.endsWith(`.${rpId}`)) throw new ConfigError(`WEBAUTHN_ORIGINS: ${origin} is not on WEBAUTHN_RP_ID (${rpId}) or a subdomain of it`)
  }
  return {
    issuer: env.MFA_ISSUER,
    reauthMaxAge: env.REAUTH_MAX_AGE,
    encryptionKeys: keys,
    webauthn: { rpId, rpName: env.WEBAUTHN_RP_NAME ?? env.MFA_ISSUER, origins }
  }
}
