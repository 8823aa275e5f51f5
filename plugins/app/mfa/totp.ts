// TOTP as API.md fixes it (RFC 6238: HMAC-SHA-1, 6 digits, 30 s steps), through otpauth. otpauth
// over otplib v13: no dependency but @noble/hashes, a synchronous API, and validate() returns the
// step offset of the code it matched, which the replay guard needs to record the step.
import { Secret, TOTP } from 'otpauth'

export const TOTP_PARAMS = { algorithm: 'SHA1', digits: 6, period: 30 } as const
/** The previous, current and next step are accepted (clock drift between phone and server). */
const WINDOW = 1

export const newTotpSecret = (): string => new Secret({ size: 20 }).base32

/** The step of `at` (ms): the number of 30 s periods since the epoch. */
export const stepOf = (at: number): number => TOTP.counter({ period: TOTP_PARAMS.period, timestamp: at })

/** The step whose code `code` is, within the window around `at`; null for no match. */
export function matchStep (secret: string, code: string, at: number): number | null {
  if (!/^\d{6}$/.test(code)) return null
  const delta = TOTP.validate({ ...TOTP_PARAMS, secret: Secret.fromBase32(secret), token: code, timestamp: at, window: WINDOW })
  return delta === null ? null : stepOf(at) + delta
}

/** The authenticator app's URI: otpauth://totp/<issuer>:<account>?secret=…&issuer=<issuer>. */
export function otpauthUrl (secret: string, issuer: string, account: string): string {
  return new TOTP({ ...TOTP_PARAMS, issuer, label: account, issuerInLabel: true, secret: Secret.fromBase32(secret) }).toString()
}
