// How the Redis store packs what it keeps small: a user agent in listpack-sized pieces, a jti as its 16 bytes.

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
