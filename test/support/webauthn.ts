// A software authenticator for the passkey tests: an ES256 (P-256) key pair of its own, a
// credential id, a signature counter, and the JSON a browser's PublicKeyCredential.toJSON() gives
// for a registration ("none" attestation) and for an assertion, made for the options the server
// answered. The origin and relying party are the caller's (a wrong one makes a refused response).
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'

/** The relying party of the test app: PUBLIC_URL's default (HOST 127.0.0.1, PORT 8000). */
export const TEST_ORIGIN = 'http://127.0.0.1:8000'
export const TEST_RP_ID = '127.0.0.1'

// ---- A tiny CBOR encoder (RFC 8949): the types an attestation object and a COSE key need ----

/** A CBOR value: integers, byte strings, text strings, arrays, and maps (a Map keeps integer keys in order). */
export type Cbor = number | Uint8Array | string | Cbor[] | Map<Cbor, Cbor> | { [key: string]: Cbor }

/** The head of an item: its major type and its argument, in the shortest form. */
function head (major: number, value: number): Buffer {
  const type = major << 5
  if (value < 24) return Buffer.from([type | value])
  if (value < 0x100) return Buffer.from([type | 24, value])
  if (value < 0x10000) {
    const b = Buffer.alloc(3)
    b[0] = type | 25
    b.writeUInt16BE(value, 1)
    return b
  }
  if (value < 0x100000000) {
    const b = Buffer.alloc(5)
    b[0] = type | 26
    b.writeUInt32BE(value, 1)
    return b
  }
  const b = Buffer.alloc(9)
  b[0] = type | 27
  b.writeBigUInt64BE(BigInt(value), 1)
  return b
}

export function cborEncode (value: Cbor): Buffer {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`CBOR: not an integer: ${value}`)
    return value >= 0 ? head(0, value) : head(1, -1 - value)
  }
  if (value instanceof Uint8Array) return Buffer.concat([head(2, value.length), value])
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8')
    return Buffer.concat([head(3, bytes.length), bytes])
  }
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map(cborEncode)])
  const entries: Array<[Cbor, Cbor]> = value instanceof Map ? [...value.entries()] : Object.entries(value)
  return Buffer.concat([head(5, entries.length), ...entries.flatMap(([k, v]) => [cborEncode(k), cborEncode(v)])])
}

// ---- The authenticator ----

const b64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url')
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest()

/** Authenticator data flags (WebAuthn §6.1). */
export const FLAGS = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40, ED: 0x80 } as const

/** The parts of PublicKeyCredentialCreationOptionsJSON the authenticator reads. */
export interface CreationOptions {
  challenge: string
  rp: { id?: string; name?: string }
  user: { id: string; name?: string }
  [key: string]: unknown
}

/** The parts of PublicKeyCredentialRequestOptionsJSON the authenticator reads. */
export interface RequestOptions {
  challenge: string
  rpId?: string
  [key: string]: unknown
}

export interface RegistrationResponseJSON {
  id: string
  rawId: string
  type: 'public-key'
  response: { clientDataJSON: string; attestationObject: string; transports: string[] }
  clientExtensionResults: Record<string, never>
  authenticatorAttachment: 'platform'
}

export interface AuthenticationResponseJSON {
  id: string
  rawId: string
  type: 'public-key'
  response: { clientDataJSON: string; authenticatorData: string; signature: string; userHandle?: string }
  clientExtensionResults: Record<string, never>
  authenticatorAttachment: 'platform'
}

/** What a ceremony may change: the origin the "browser" reports, the relying party hashed, the flags, the challenge answered. */
export interface CeremonyOverrides {
  origin?: string
  rpId?: string
  flags?: number
  challenge?: string
  type?: string
}

export class SoftAuthenticator {
  readonly credentialId: Buffer
  private readonly privateKey: KeyObject
  private readonly publicKey: KeyObject
  /** The signature counter: the last value signed (each assertion signs the next one). */
  counter = 0
  /** The user handle stored at registration (options.user.id, base64url); null before. */
  userHandle: string | null = null

  constructor (readonly origin = TEST_ORIGIN, readonly rpId = TEST_RP_ID) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    this.privateKey = privateKey
    this.publicKey = publicKey
    this.credentialId = randomBytes(16)
  }

  get id (): string {
    return b64url(this.credentialId)
  }

  /** Sets the signature counter (a cloned authenticator's goes backwards). */
  setCounter (value: number): void {
    this.counter = value
  }

  /** The COSE_Key of the public key (RFC 9053: kty EC2, alg ES256, crv P-256, x, y). */
  coseKey (): Buffer {
    const jwk = this.publicKey.export({ format: 'jwk' })
    const x = Buffer.from(jwk.x!, 'base64url')
    const y = Buffer.from(jwk.y!, 'base64url')
    return cborEncode(new Map<Cbor, Cbor>([[1, 2], [3, -7], [-1, 1], [-2, x], [-3, y]]))
  }

  private clientData (type: string, challenge: string, origin: string): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }), 'utf8')
  }

  private authData (rpId: string, flags: number, attested?: Buffer): Buffer {
    const counter = Buffer.alloc(4)
    counter.writeUInt32BE(this.counter >>> 0)
    return Buffer.concat([sha256(rpId), Buffer.from([flags]), counter, ...(attested ? [attested] : [])])
  }

  /** navigator.credentials.create() for these options: a "none" attestation; the user handle is kept. */
  register (options: CreationOptions, overrides: CeremonyOverrides = {}): RegistrationResponseJSON {
    const rpId = overrides.rpId ?? options.rp.id ?? this.rpId
    const idLength = Buffer.alloc(2)
    idLength.writeUInt16BE(this.credentialId.length)
    const attested = Buffer.concat([Buffer.alloc(16), idLength, this.credentialId, this.coseKey()])
    const authData = this.authData(rpId, overrides.flags ?? FLAGS.UP | FLAGS.UV | FLAGS.AT, attested)
    const attestationObject = cborEncode(new Map<Cbor, Cbor>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]))
    this.userHandle = options.user.id
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64url(this.clientData(overrides.type ?? 'webauthn.create', overrides.challenge ?? options.challenge, overrides.origin ?? this.origin)),
        attestationObject: b64url(attestationObject),
        transports: ['internal']
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform'
    }
  }

  /** navigator.credentials.get() for these options: the counter moves on one, then signs authenticatorData || sha256(clientDataJSON). */
  assert (options: RequestOptions, overrides: CeremonyOverrides = {}): AuthenticationResponseJSON {
    this.counter += 1
    const rpId = overrides.rpId ?? options.rpId ?? this.rpId
    const clientData = this.clientData(overrides.type ?? 'webauthn.get', overrides.challenge ?? options.challenge, overrides.origin ?? this.origin)
    const authData = this.authData(rpId, overrides.flags ?? FLAGS.UP | FLAGS.UV)
    // ECDSA with SHA-256, DER-encoded (Node's default for EC keys), as WebAuthn's ES256 wants.
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientData)]), this.privateKey)
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64url(clientData),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        ...(this.userHandle === null ? {} : { userHandle: this.userHandle })
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform'
    }
  }
}
