// Recovery codes: ten random codes like "ab3de-f9h2k" (10 characters of an alphabet without the
// look-alikes 0/o, 1/l/i: about 49.5 bits each), shown once and stored as scrypt hashes salted with
// the user, so that a copy of the database does not give them away. Typed in any case, with or
// without the dash and spaces.
import { randomInt, scrypt } from 'node:crypto'

const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789'
const LENGTH = 10
export const RECOVERY_CODES = 10

/** scrypt's cost: about 50 ms and 16 MiB a hash, off the event loop. */
const SCRYPT = { N: 1 << 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }

export function newRecoveryCode (): string {
  let code = ''
  for (let i = 0; i < LENGTH; i++) code += ALPHABET[randomInt(ALPHABET.length)]
  return `${code.slice(0, 5)}-${code.slice(5)}`
}

/** The code as hashed; null when it cannot be a recovery code. */
export function normalizeRecoveryCode (input: string): string | null {
  const code = input.toLowerCase().replace(/[\s-]/g, '')
  if (code.length !== LENGTH) return null
  for (const ch of code) if (!ALPHABET.includes(ch)) return null
  return code
}

export function hashRecoveryCode (userId: string, normalized: string): Promise<string> {
  return new Promise((resolve, reject) => {
    scrypt(normalized, `recovery-code:${userId}`, 32, SCRYPT, (err, key) => (err ? reject(err) : resolve(key.toString('hex'))))
  })
}
