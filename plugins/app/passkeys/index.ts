// Passkeys (WebAuthn) through @simplewebauthn/server: registration of a discoverable credential
// with user verification, the user's list, deletion, and assertions (username-less sign-in, or the
// second step after a password). Challenges are tickets in the token store (Redis or the
// database): single use, 5 minutes, so any instance finishes a ceremony another began. The
// signature counter is checked and moved in one UPDATE: an assertion whose counter does not go
// forward (a cloned authenticator, or a replay racing the original) is refused. Owns the passkeys table.
import { randomBytes } from 'node:crypto'
import fp from 'fastify-plugin'
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON
} from '@simplewebauthn/server'
import type { PrismaClient } from '../../external/prisma/index.js'
import { databaseOutage } from '../../external/prisma/database-outage.js'
import type { MfaConfig } from '../config/mfa.js'
import { isUuid } from '../ids.js'
import type { TokenStore } from '../token-store/index.js'

/** A challenge's life: the ceremony must end within it (the browser's timeout is the same). */
const CHALLENGE_TTL = 300

export interface PasskeyView {
  id: string
  name: string
  created: string
  last_used: string | null
}

/** An assertion's outcome: whose passkey signed, or why it was refused (cloned: the counter went backwards). */
export type Assertion = { ok: true; userId: string; passkeyId: string } | { ok: false; reason: 'invalid' | 'cloned' }

export interface Passkeys {
  registrationOptions(userId: string, username: string): Promise<PublicKeyCredentialCreationOptionsJSON>
  /** Verifies an attestation against the user's pending challenge and stores the passkey; null when it does not verify. */
  register(userId: string, credential: unknown, name: string | undefined): Promise<PasskeyView | null>
  list(userId: string): Promise<PasskeyView[]>
  remove(userId: string, id: string): Promise<boolean>
  /** Request options for any of the user's passkeys (username-less: no allowCredentials). */
  authenticationOptions(): Promise<PublicKeyCredentialRequestOptionsJSON>
  /**
   * Verifies an assertion against its challenge (spent whatever the outcome) and the stored key and
   * counter. `userId`: only a passkey of this user will do (the second step of a sign-in); another's
   * is refused before it is verified, so its counter and last use do not move.
   */
  authenticate(credential: unknown, userId?: string): Promise<Assertion>
}

declare module 'fastify' {
  interface FastifyInstance {
    passkeys: Passkeys
  }
}

const iso = (d: Date | null) => (d === null ? null : d.toISOString().replace(/\.\d{3}Z$/, 'Z'))
const uuidBytes = (id: string) => new Uint8Array(Buffer.from(id.replace(/-/g, ''), 'hex'))

/** The challenge a credential answers, read from its clientDataJSON (checked again by the verification). */
function challengeOf (credential: unknown): string | null {
  const data = (credential as { response?: { clientDataJSON?: unknown } } | null)?.response?.clientDataJSON
  if (typeof data !== 'string' || data.length > 4096) return null
  try {
    const parsed = JSON.parse(Buffer.from(data, 'base64url').toString('utf8')) as { challenge?: unknown }
    return typeof parsed.challenge === 'string' && /^[A-Za-z0-9_-]{16,128}$/.test(parsed.challenge) ? parsed.challenge : null
  } catch {
    return null
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

export function createPasskeys (prisma: PrismaClient, store: TokenStore, config: MfaConfig['webauthn']): Passkeys {
  const { rpId, rpName, origins } = config
  const view = (p: { id: string; name: string; created: Date; lastUsed: Date | null }): PasskeyView => ({
    id: p.id,
    name: p.name,
    created: iso(p.created)!,
    last_used: iso(p.lastUsed)
  })

  return {
    async registrationOptions (userId, username) {
      const existing = await prisma.passkey.findMany({ where: { userId }, select: { credentialId: true, transports: true } })
      const options = await generateRegistrationOptions({
        rpName,
        rpID: rpId,
        userName: username,
        userID: uuidBytes(userId),
        attestationType: 'none',
        timeout: CHALLENGE_TTL * 1000,
        excludeCredentials: existing.map((c) => ({ id: c.credentialId, ...(c.transports ? { transports: c.transports.split(',') } : {}) })),
        authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' }
      })
      await store.putTicket(`pkr:${options.challenge}`, userId, CHALLENGE_TTL, 1)
      return options
    },

    async register (userId, credential, name) {
      const challenge = challengeOf(credential)
      if (challenge === null || !isObject(credential)) return null
      // Single use: taken whatever the outcome; only the user it was made for may answer it.
      if ((await store.takeTicket(`pkr:${challenge}`)) !== userId) return null
      let verified
      try {
        verified = await verifyRegistrationResponse({
          response: credential as unknown as RegistrationResponseJSON,
          expectedChallenge: challenge,
          expectedOrigin: origins,
          expectedRPID: rpId,
          requireUserVerification: true
        })
      } catch {
        return null
      }
      if (!verified.verified) return null
      const { credential: c, credentialDeviceType, credentialBackedUp } = verified.registrationInfo
      try {
        const row = await prisma.passkey.create({
          data: {
            id: randomBytes(12).toString('base64url'),
            userId,
            credentialId: c.id,
            publicKey: Buffer.from(c.publicKey),
            counter: BigInt(c.counter),
            transports: (c.transports ?? []).join(','),
            deviceType: credentialDeviceType,
            backedUp: credentialBackedUp,
            name: (name ?? '').trim().slice(0, 64) || 'Passkey'
          }
        })
        return view(row)
      } catch (err) {
        // The same credential registered already (by this user or another): refused as unverifiable.
        if ((err as { code?: string }).code === 'P2002') return null
        throw err
      }
    },

    async list (userId) {
      if (!isUuid(userId)) return []
      const rows = await prisma.passkey.findMany({ where: { userId }, orderBy: [{ created: 'asc' }, { id: 'asc' }] })
      return rows.map(view)
    },

    async remove (userId, id) {
      if (!isUuid(userId)) return false
      const { count } = await prisma.passkey.deleteMany({ where: { userId, id } })
      return count === 1
    },

    async authenticationOptions () {
      const options = await generateAuthenticationOptions({ rpID: rpId, userVerification: 'required', timeout: CHALLENGE_TTL * 1000 })
      await store.putTicket(`pka:${options.challenge}`, '1', CHALLENGE_TTL, 1)
      return options
    },

    async authenticate (credential, userId) {
      const challenge = challengeOf(credential)
      if (challenge === null || !isObject(credential) || typeof credential.id !== 'string') return { ok: false, reason: 'invalid' }
      if ((await store.takeTicket(`pka:${challenge}`)) === null) return { ok: false, reason: 'invalid' }
      const passkey = await prisma.passkey.findUnique({ where: { credentialId: credential.id } })
      if (!passkey || (userId !== undefined && passkey.userId !== userId)) return { ok: false, reason: 'invalid' }
      // A discoverable credential names its user: it must be the passkey's.
      const handle = (credential.response as { userHandle?: unknown } | undefined)?.userHandle
      if (typeof handle === 'string' && handle !== '' && handle !== Buffer.from(uuidBytes(passkey.userId)).toString('base64url')) {
        return { ok: false, reason: 'invalid' }
      }
      let newCounter: number
      try {
        const result = await verifyAuthenticationResponse({
          response: credential as unknown as AuthenticationResponseJSON,
          expectedChallenge: challenge,
          expectedOrigin: origins,
          expectedRPID: rpId,
          credential: {
            id: passkey.credentialId,
            publicKey: new Uint8Array(passkey.publicKey),
            counter: Number(passkey.counter),
            ...(passkey.transports ? { transports: passkey.transports.split(',') } : {})
          },
          requireUserVerification: true
        })
        if (!result.verified) return { ok: false, reason: 'invalid' }
        newCounter = result.authenticationInfo.newCounter
      } catch (err) {
        return { ok: false, reason: /counter/i.test((err as Error).message) ? 'cloned' : 'invalid' }
      }
      // The counter only moves forward (an authenticator that keeps none stays at 0): a racing
      // assertion with the same or an older counter finds the row moved on.
      const count = await prisma.$executeRaw`
        UPDATE passkeys SET counter = ${newCounter}::bigint, last_used = now()
        WHERE id = ${passkey.id} AND (counter < ${newCounter}::bigint OR (counter = 0 AND ${newCounter}::bigint = 0))`
      if (count !== 1) return { ok: false, reason: 'cloned' }
      return { ok: true, userId: passkey.userId, passkeyId: passkey.id }
    }
  }
}

export default fp(
  async (fastify) => {
    const passkeys = createPasskeys(fastify.prisma, fastify.tokenStore, fastify.config.mfa.webauthn)
    fastify.decorate('passkeys', fastify.outages.guard(passkeys, 'database', databaseOutage))
  },
  { name: 'passkeys', dependencies: ['config', 'outages', 'prisma', 'token-store'] }
)
