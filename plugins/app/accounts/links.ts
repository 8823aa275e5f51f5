// The tokens of the e-mailed links, stateless like Django's: nothing is stored, each is an HMAC
// over the state it must not outlive, so it dies as soon as that state changes.
//
// Password reset (django.contrib.auth.tokens.PasswordResetTokenGenerator): `uid` is the user id
// in base64url; `token` is "<timestamp in base36>-<HMAC-SHA256, every other hex digit>" over the
// user id, the password hash, the last login and the timestamp and email. A successful reset
// changes the hash, so a link works once; a login moves last_login, so it dies then too; and it
// expires PASSWORD_RESET_TIMEOUT after it was made. Timestamps count seconds from 2001-01-01, as
// Django's do.
//
// E-mail verification key: "<uid>.<timestamp in base36>.<HMAC>" over the user id, the email and
// whether it is verified yet: it works once (verifying flips the flag), not for a changed email,
// and only until EMAIL_VERIFY_TIMEOUT.
//
// E-mail change key: "<uid>.<new address in base64url>.<timestamp in base36>.<HMAC>" over the user
// id, the current address, the new one and the timestamp, under a key of its own: the same rules
// as the verification key. It works once (the change makes the current address another one), dies
// when the address changes otherwise, and lasts EMAIL_VERIFY_TIMEOUT.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import type { User } from '../users.js'

const EPOCH_2001 = Date.UTC(2001, 0, 1) / 1000

export interface LinkSecrets {
  /** Key material of the service (the JWT signing key): each purpose derives its own key from it. */
  secret: string
  resetTimeout: number
  verifyTimeout: number
}

const encodeUid = (id: string) => Buffer.from(id, 'utf8').toString('base64url')

/** The user id a `uid` carries, or null for anything that is not canonical base64url. */
export function decodeUid (uid: string): string | null {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(uid)) return null
  const id = Buffer.from(uid, 'base64url').toString('utf8')
  return encodeUid(id) === uid ? id : null
}

function parseBase36 (text: string): number | null {
  if (!/^[0-9a-z]{1,13}$/.test(text)) return null
  const n = parseInt(text, 36)
  return Number.isSafeInteger(n) ? n : null
}

function sameText (a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

export function createLinks ({ secret, resetTimeout, verifyTimeout }: LinkSecrets) {
  // Django's salted_hmac: the key is a hash of (salt + secret); one salt per purpose.
  const keyFor = (salt: string) => createHash('sha256').update(salt + secret).digest()
  const resetKey = keyFor('auth-service.PasswordResetTokenGenerator')
  const verifyKey = keyFor('auth-service.EmailVerification')
  const changeKey = keyFor('auth-service.EmailChange')
  const nowTs = (now: number) => Math.floor(now / 1000 - EPOCH_2001)

  const resetHash = (user: User, ts: number) => {
    const login = user.lastLogin ? user.lastLogin.toISOString() : ''
    const mac = createHmac('sha256', resetKey).update(`${user.id}${user.passwordHash}${login}${ts}${user.email}`).digest('hex')
    return [...mac].filter((_, i) => i % 2 === 0).join('')
  }
  const verifyHash = (user: User, ts: number) =>
    createHmac('sha256', verifyKey).update(`${user.id}\n${user.email.toLowerCase()}\n${user.emailVerified}\n${ts}`).digest('base64url')

  const changeHash = (user: User, newEmail: string, ts: number) =>
    createHmac('sha256', changeKey).update(`${user.id}\n${user.email.toLowerCase()}\n${newEmail}\n${ts}`).digest('base64url')
  const checkAge = (ts: number, now: number) => {
    const age = nowTs(now) - ts
    return age >= 0 && age <= verifyTimeout
  }

  return {
    uid: encodeUid,
    decodeUid,

    resetToken (user: User, now = Date.now()): string {
      const ts = nowTs(now)
      return `${ts.toString(36)}-${resetHash(user, ts)}`
    },

    /** Whether `token` was made for this user as it is now, and is younger than the timeout. */
    checkResetToken (user: User, token: string, now = Date.now()): boolean {
      const dash = token.indexOf('-')
      if (dash < 1 || token.length > 64) return false
      const ts = parseBase36(token.slice(0, dash))
      if (ts === null) return false
      if (!sameText(resetHash(user, ts), token.slice(dash + 1))) return false
      const age = nowTs(now) - ts
      return age >= 0 && age <= resetTimeout
    },

    verifyKey (user: User, now = Date.now()): string {
      const ts = nowTs(now)
      return `${encodeUid(user.id)}.${ts.toString(36)}.${verifyHash(user, ts)}`
    },

    /** The user id a verification key names, before the user is read (null: malformed). */
    verifyKeyUser (key: string): string | null {
      const parts = key.split('.')
      return parts.length === 3 && key.length <= 300 ? decodeUid(parts[0]!) : null
    },

    emailChangeKey (user: User, newEmail: string, now = Date.now()): string {
      const ts = nowTs(now)
      return `${encodeUid(user.id)}.${Buffer.from(newEmail, 'utf8').toString('base64url')}.${ts.toString(36)}.${changeHash(user, newEmail, ts)}`
    },

    /** The user id an e-mail change key names, before the user is read (null: malformed). */
    emailChangeKeyUser (key: string): string | null {
      const parts = key.split('.')
      return parts.length === 4 && key.length <= 800 ? decodeUid(parts[0]!) : null
    },

    /** The new address of a key made for this user as it is now and younger than the timeout; null otherwise. */
    checkEmailChangeKey (user: User, key: string, now = Date.now()): string | null {
      const [, encoded, stamp, mac] = key.split('.')
      const ts = parseBase36(stamp ?? '')
      if (ts === null || mac === undefined || !/^[A-Za-z0-9_-]+$/.test(encoded ?? '')) return null
      const newEmail = Buffer.from(encoded!, 'base64url').toString('utf8')
      if (!sameText(changeHash(user, newEmail, ts), mac)) return null
      return checkAge(ts, now) ? newEmail : null
    },

    /** Whether `key` was made for this user's current, unverified email, and is younger than the timeout. */
    checkVerifyKey (user: User, key: string, now = Date.now()): boolean {
      const [, stamp, mac] = key.split('.')
      const ts = parseBase36(stamp ?? '')
      if (ts === null || mac === undefined) return false
      if (!sameText(verifyHash(user, ts), mac)) return false
      const age = nowTs(now) - ts
      return age >= 0 && age <= verifyTimeout
    }
  }
}
