// The second factor's door (`fastify.mfa`): TOTP enrolment (setup, confirm, disable), the codes a
// sign-in or a step-up gives (a TOTP code under the replay guard, or a recovery code, each spent
// atomically), recovery codes, and what a user has enabled. It owns the tables mfa_totp and
// mfa_recovery_codes; the flows that use it (sign-in, step-up) are the accounts plugin's.
import fp from 'fastify-plugin'
import { renderSVG } from 'uqr'
import type { PrismaClient } from '../../external/prisma/index.js'
import { databaseOutage } from '../../external/prisma/database-outage.js'
import type { MfaConfig } from '../config/mfa.js'
import { isUuid } from '../ids.js'
import { hashRecoveryCode, newRecoveryCode, normalizeRecoveryCode, RECOVERY_CODES } from './recovery-codes.js'
import { SecretBox } from './secret-box.js'
import { matchStep, newTotpSecret, otpauthUrl } from './totp.js'

export { TOTP_PARAMS } from './totp.js'

export interface MfaStatus {
  totp: boolean
  recoveryCodesLeft: number
  passkeys: number
}

export interface TotpSetup {
  secret: string
  otpauthUrl: string
  qrSvg: string
}

/** How a code was accepted. */
export type CodeMethod = 'totp' | 'recovery_code'

export interface Mfa {
  /** The clock of TOTP steps (ms since the epoch). Tests replace it to move in time. */
  now: () => number
  status(userId: string): Promise<MfaStatus>
  /** A new secret for the authenticator app, not active until confirmed; null when TOTP is already on. */
  beginTotp(userId: string, account: string): Promise<TotpSetup | null>
  /** Activates the pending secret with a code of it: the new recovery codes; null for a wrong code (or nothing pending). */
  confirmTotp(userId: string, code: string): Promise<string[] | null>
  /**
   * A TOTP code (of a step later than the last accepted, recorded atomically: of two requests with
   * one code, one wins) or an unused recovery code (spent atomically) of a user with TOTP on.
   */
  useCode(userId: string, code: string): Promise<CodeMethod | null>
  /** Turns TOTP off and drops the recovery codes; false when it was not on. */
  disableTotp(userId: string): Promise<boolean>
  /** A new set of recovery codes; the old set stops working. */
  newRecoveryCodes(userId: string): Promise<string[]>
  /** Seals again, under the first MFA_ENCRYPTION_KEY, every secret an older key sealed: how many (a key rotation). */
  rekey(): Promise<number>
}

declare module 'fastify' {
  interface FastifyInstance {
    mfa: Mfa
  }
}

async function hashedCodes (userId: string): Promise<{ codes: string[]; hashes: string[] }> {
  const codes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode)
  const hashes = await Promise.all(codes.map((c) => hashRecoveryCode(userId, normalizeRecoveryCode(c)!)))
  return { codes, hashes }
}

export function createMfa (prisma: PrismaClient, config: MfaConfig): Mfa {
  const box = new SecretBox(config.encryptionKeys)

  /** The secret of the user's TOTP device (confirmed or pending), re-sealed under the current key when an old one sealed it. */
  async function secretOf (userId: string, confirmed: boolean): Promise<{ secret: string; lastStep: bigint | null } | null> {
    const row = await prisma.totpDevice.findUnique({ where: { userId } })
    if (!row || row.confirmed !== confirmed) return null
    const secret = box.open(row.secret, userId)
    if (secret === null) throw new Error('mfa: a TOTP secret does not decrypt with any MFA_ENCRYPTION_KEY')
    if (!box.isCurrent(row.secret)) {
      await prisma.totpDevice.updateMany({ where: { userId, secret: row.secret }, data: { secret: box.seal(secret, userId) } })
    }
    return { secret, lastStep: row.lastStep }
  }

  /**
   * The replay guard: the step is recorded only if it is later than the last one accepted, in one
   * UPDATE, so of two requests with one code (or two codes of one step) exactly one succeeds.
   */
  async function acceptStep (userId: string, step: number, confirmed: boolean): Promise<boolean> {
    const count = await prisma.$executeRaw`
      UPDATE mfa_totp SET last_step = ${step}::bigint
      WHERE user_id = ${userId}::uuid AND confirmed = ${confirmed} AND (last_step IS NULL OR last_step < ${step}::bigint)`
    return count === 1
  }

  const mfa: Mfa = {
    now: () => Date.now(),

    async status (userId) {
      if (!isUuid(userId)) return { totp: false, recoveryCodesLeft: 0, passkeys: 0 }
      // One round trip: every successful login asks.
      const [row] = await prisma.$queryRaw<Array<{ totp: boolean; codes: number; passkeys: number }>>`
        SELECT EXISTS (SELECT 1 FROM mfa_totp WHERE user_id = ${userId}::uuid AND confirmed) AS totp,
               (SELECT count(*)::int FROM mfa_recovery_codes WHERE user_id = ${userId}::uuid AND used_at IS NULL) AS codes,
               (SELECT count(*)::int FROM passkeys WHERE user_id = ${userId}::uuid) AS passkeys`
      const totp = row?.totp === true
      return { totp, recoveryCodesLeft: totp ? Number(row?.codes ?? 0) : 0, passkeys: Number(row?.passkeys ?? 0) }
    },

    async beginTotp (userId, account) {
      const secret = newTotpSecret()
      // Replaces a pending secret, never a confirmed one (the WHERE of the upsert).
      const count = await prisma.$executeRaw`
        INSERT INTO mfa_totp (user_id, secret, confirmed) VALUES (${userId}::uuid, ${box.seal(secret, userId)}, false)
        ON CONFLICT (user_id) DO UPDATE SET secret = EXCLUDED.secret, last_step = NULL, created = now()
        WHERE mfa_totp.confirmed = false`
      if (count !== 1) return null
      const url = otpauthUrl(secret, config.issuer, account)
      return { secret, otpauthUrl: url, qrSvg: renderSVG(url, { ecc: 'M', border: 2 }) }
    },

    async confirmTotp (userId, code) {
      const device = await secretOf(userId, false)
      if (!device) return null
      const step = matchStep(device.secret, code, mfa.now())
      if (step === null) return null
      const { codes, hashes } = await hashedCodes(userId)
      // The code's step is recorded (the replay guard starts with it), the device turns on and the
      // codes replace any older set, all or nothing.
      const confirmed = await prisma.$transaction(async (tx) => {
        const count = await tx.$executeRaw`
          UPDATE mfa_totp SET last_step = ${step}::bigint, confirmed = true, confirmed_at = now()
          WHERE user_id = ${userId}::uuid AND confirmed = false AND (last_step IS NULL OR last_step < ${step}::bigint)`
        if (count !== 1) return false
        await tx.recoveryCode.deleteMany({ where: { userId } })
        await tx.recoveryCode.createMany({ data: hashes.map((codeHash) => ({ userId, codeHash })) })
        return true
      })
      return confirmed ? codes : null
    },

    async useCode (userId, code) {
      if (!isUuid(userId)) return null
      const device = await secretOf(userId, true)
      if (!device) return null
      if (/^\d{6}$/.test(code)) {
        const step = matchStep(device.secret, code, mfa.now())
        // Refused without a write when it is plainly a replay (the UPDATE decides the races).
        if (step === null || (device.lastStep !== null && BigInt(step) <= device.lastStep)) return null
        return (await acceptStep(userId, step, true)) ? 'totp' : null
      }
      const normalized = normalizeRecoveryCode(code)
      if (normalized === null) return null
      const codeHash = await hashRecoveryCode(userId, normalized)
      const { count } = await prisma.recoveryCode.updateMany({ where: { userId, codeHash, usedAt: null }, data: { usedAt: new Date() } })
      return count === 1 ? 'recovery_code' : null
    },

    async disableTotp (userId) {
      if (!isUuid(userId)) return false
      const [, { count }] = await prisma.$transaction([
        prisma.recoveryCode.deleteMany({ where: { userId } }),
        prisma.totpDevice.deleteMany({ where: { userId, confirmed: true } })
      ])
      return count === 1
    },

    async newRecoveryCodes (userId) {
      const { codes, hashes } = await hashedCodes(userId)
      await prisma.$transaction([
        prisma.recoveryCode.deleteMany({ where: { userId } }),
        prisma.recoveryCode.createMany({ data: hashes.map((codeHash) => ({ userId, codeHash })) })
      ])
      return codes
    },

    async rekey () {
      let count = 0
      let after = ''
      for (;;) {
        const rows = await prisma.totpDevice.findMany({ where: { userId: { gt: after || undefined } }, orderBy: { userId: 'asc' }, take: 500, select: { userId: true, secret: true } })
        if (rows.length === 0) return count
        for (const row of rows) {
          if (box.isCurrent(row.secret)) continue
          const secret = box.open(row.secret, row.userId)
          if (secret === null) throw new Error(`mfa: the TOTP secret of user ${row.userId} does not decrypt with any MFA_ENCRYPTION_KEY`)
          // Compare-and-set: a secret replaced meanwhile (a new setup) is left as it is.
          const { count: n } = await prisma.totpDevice.updateMany({ where: { userId: row.userId, secret: row.secret }, data: { secret: box.seal(secret, row.userId) } })
          count += n
        }
        after = rows[rows.length - 1]!.userId
      }
    }
  }
  return mfa
}

export default fp(
  async (fastify) => {
    const mfa = createMfa(fastify.prisma, fastify.config.mfa)
    // The clock stays replaceable through the guard (tests set fastify.mfa.now).
    fastify.decorate('mfa', fastify.outages.guard(mfa, 'database', databaseOutage))
  },
  { name: 'mfa', dependencies: ['config', 'outages', 'prisma'] }
)
