// TOTP secrets at rest: AES-256-GCM under a key derived (HKDF-SHA256) from each MFA_ENCRYPTION_KEY,
// the user id as associated data (a secret copied to another user's row does not decrypt). A box
// names the key that sealed it (`v1.<kid>.<iv>.<ciphertext and tag>`), so that after a key
// rotation the old keys still open old boxes and `isCurrent` tells which to seal again.
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto'

const INFO = 'auth-service totp secret v1'

interface Key {
  kid: string
  key: Buffer
}

export class SecretBox {
  readonly #keys: Key[]

  /** `keys`: the first seals, every one opens. */
  constructor (keys: readonly string[]) {
    if (keys.length === 0) throw new Error('SecretBox: no key')
    this.#keys = keys.map((k) => {
      const key = Buffer.from(hkdfSync('sha256', k, Buffer.alloc(0), INFO, 32))
      return { kid: createHash('sha256').update(key).digest('base64url').slice(0, 8), key }
    })
  }

  seal (plaintext: string, userId: string): string {
    const { kid, key } = this.#keys[0]!
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', key, iv)
    cipher.setAAD(Buffer.from(userId))
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()])
    return `v1.${kid}.${iv.toString('base64url')}.${body.toString('base64url')}`
  }

  /** The plaintext; null when no key of ours sealed it or it was altered. */
  open (box: string, userId: string): string | null {
    const [version, kid, iv, body] = box.split('.')
    const key = this.#keys.find((k) => k.kid === kid)
    if (version !== 'v1' || !key || !iv || !body) return null
    const bytes = Buffer.from(body, 'base64url')
    if (bytes.length < 16) return null
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.key, Buffer.from(iv, 'base64url'))
      decipher.setAAD(Buffer.from(userId))
      decipher.setAuthTag(bytes.subarray(bytes.length - 16))
      return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]).toString('utf8')
    } catch {
      return null
    }
  }

  /** Sealed with the current key (else: seal it again). */
  isCurrent (box: string): boolean {
    return box.split('.')[1] === this.#keys[0]!.kid
  }
}
