// How the Redis store packs what it keeps small: a user agent in listpack-sized pieces, a jti as its 16 bytes,
// a user id in its keys; and the keys' names.
import { isUuid } from '../ids.js'
import type { SessionRef } from './types.js'

/** `text` cut into consecutive pieces of at most `max` UTF-8 bytes, never inside a character. */
export function pieces (text: string, max: number): string[] {
  const out: string[] = []
  let piece = ''
  let bytes = 0
  for (const ch of text) {
    const n = Buffer.byteLength(ch)
    if (bytes + n > max) {
      out.push(piece)
      piece = ''
      bytes = 0
    }
    piece += ch
    bytes += n
  }
  if (piece !== '') out.push(piece)
  return out
}

/**
 * A jti as stored: the 16 bytes that newId() encodes as 22 base64url characters. Every jti is
 * one of those (the service signs only its own); anything else is refused, not stored ambiguously.
 */
export function packJti (jti: string): Buffer {
  const bytes = Buffer.from(jti, 'base64url')
  if (bytes.length !== 16 || bytes.toString('base64url') !== jti) throw new Error('token store: a jti must be 16 bytes in base64url')
  return bytes
}

/**
 * The user id in keys: a UUID as its 16 bytes in base64url, 22 characters instead of 36, which
 * keeps a session under 512 bytes. Never decoded. Other ids get a "=" (not in base64url), so
 * packing stays one-to-one; braces are escaped (and "=" with them), so the hash tag is exactly this.
 */
export const packUserId = (userId: string) =>
  isUuid(userId) ? Buffer.from(userId.replace(/-/g, ''), 'hex').toString('base64url') : `=${userId.replace(/[={}]/g, (c) => ESCAPES[c]!)}`
const ESCAPES: Record<string, string> = { '=': '==', '{': '=(', '}': '=)' }
const UNESCAPES: Record<string, string> = { '==': '=', '=(': '{', '=)': '}' }
/** The user id a packed one stands for (packUserId's inverse); null for what packUserId never makes. */
export function unpackUserId (packed: string): string | null {
  if (packed.startsWith('=')) return packed.slice(1).replace(/=[=()]/g, (e) => UNESCAPES[e]!)
  const hex = Buffer.from(packed, 'base64url').toString('hex')
  if (hex.length !== 32) return null
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
/** The session a session key names (`s:{U}:<sid>`, without the client's keyPrefix); null for another key. */
export function sessionOfKey (key: string): SessionRef | null {
  const close = key.indexOf('}:')
  if (!key.startsWith('s:{') || close === -1) return null
  const userId = unpackUserId(key.slice(3, close))
  return userId === null ? null : { userId, sid: key.slice(close + 2) }
}
/** The prefix of every session key of the user: `s:{U}:`. */
export const sessionsOf = (userId: string) => `s:{${packUserId(userId)}}:`
export const sessionKey = ({ userId, sid }: SessionRef) => sessionsOf(userId) + sid
export const userKey = (userId: string) => `u:{${packUserId(userId)}}`
/** A user's device history: in the user's slot, outside the prefixes the liveness cache tracks. */
export const deviceKey = (userId: string) => `d:{${packUserId(userId)}}`
/** A ticket's key: `t:` and the caller's key (which names a ceremony, never a user's slot). */
export const ticketKey = (key: string) => `t:${key}`
