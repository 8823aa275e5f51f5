// The session flows: login, refresh (rotation), verify, logout, logout-all, and the sessions list
// with signing one device out.
import { createHash, randomBytes } from 'node:crypto'
import type { AuditRecord } from '../audit.js'
import { ApiError, TOKEN_BLACKLISTED, TOKEN_INVALID, fieldErrors, tokenNotValid } from '../errors.js'
import { signInOf } from '../tokens.js'
import { foldUsername } from '../usernames.js'
import { accountOf, INVALID_CODE, nowSeconds, PASSWORD, PASSWORD_AND_OTP, PASSWORD_AND_PASSKEY, type FlowContext } from './context.js'
import type { Accounts, Client, MfaChallenge } from './types.js'

const UNVERIFIED = 'E-mail is not verified.'

/** SessionInfo times as the list shows them: ISO 8601 to the second. */
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')

type SessionFlows = Pick<Accounts, 'login' | 'completeLogin' | 'refresh' | 'verify' | 'logout' | 'logoutAll' | 'sessions' | 'revokeSession'>

/** The ephemeral token of a sign-in waiting for its second factor: 5 minutes, 5 wrong codes. */
const EPHEMERAL_TTL = 300
const EPHEMERAL_TRIES = 5
const INVALID_EPHEMERAL = 'Invalid or expired token.'
const INVALID_CREDENTIAL = 'Invalid credentials'
const invalidEphemeral = () => fieldErrors({ ephemeral_token: [INVALID_EPHEMERAL] })

/** What the ephemeral token stands for: whose sign-in, with which password (a fingerprint of its hash), until when (ms). */
interface PendingSignIn {
  userId: string
  hash: string
  expires: number
}

/** The store keeps a hash of the token, not the token: a reader of Redis or the table cannot finish a sign-in. null: not a token we made. */
const ticketKey = (token: string): string | null =>
  /^[A-Za-z0-9_-]{43}$/.test(token) ? `mfa:${createHash('sha256').update(token).digest('base64url')}` : null
const hashPrint = (passwordHash: string) => createHash('sha256').update(passwordHash).digest('base64url')

function parsePending (value: string): PendingSignIn | null {
  try {
    const p = JSON.parse(value) as Partial<PendingSignIn>
    return typeof p.userId === 'string' && typeof p.hash === 'string' && typeof p.expires === 'number' ? (p as PendingSignIn) : null
  } catch {
    return null
  }
}

export function sessionFlows (ctx: FlowContext): SessionFlows {
  const { users, passwords, tokens, throttle, audit, store, email, rotateRefreshTokens, mfa, passkeys, notify } = ctx

  /** The first step passed and a second factor is due: an ephemeral token, kept where sessions are. */
  async function challenge (userId: string, passwordHash: string, hasPasskeys: boolean): Promise<MfaChallenge> {
    const token = randomBytes(32).toString('base64url')
    const pending: PendingSignIn = { userId, hash: hashPrint(passwordHash), expires: mfa.now() + EPHEMERAL_TTL * 1000 }
    await store.putTicket(ticketKey(token)!, JSON.stringify(pending), EPHEMERAL_TTL, EPHEMERAL_TRIES)
    return { mfa_required: true, ephemeral_token: token, methods: hasPasskeys ? ['totp', 'recovery_code', 'passkey'] : ['totp', 'recovery_code'] }
  }

  /** A wrong second factor: a failed login of the account, a try of the ephemeral token spent. */
  async function wrongCode (key: string, account: string, client: Client, record: AuditRecord<'mfa_challenge'>, field: 'code' | 'credential'): Promise<never> {
    await throttle.failLogin(client.ip, account)
    audit(client, record)
    const left = await store.failTicket(key)
    if (left === 0) throw invalidEphemeral()
    throw fieldErrors({ [field]: [field === 'code' ? INVALID_CODE : INVALID_CREDENTIAL] })
  }

  return {
    async login ({ login, password, ...client }) {
      const user = await users.findByLogin(login)
      const userId = user?.id ?? null
      // The failure limits count per account, whichever way it was named (username in any
      // case, or its email); a name that designates nobody is its own bucket.
      const account = user ? accountOf(user.id) : `name:${foldUsername(login)}`
      await ctx.auditThrottled(() => throttle.checkLogin(client.ip, account), client, { event: 'login', outcome: 'throttled', userId })
      // Always one bcrypt compare: an unknown user costs the same as a wrong password.
      const ok = await passwords.verify(password, user?.passwordHash ?? null)
      if (!user || !ok || !user.isActive) {
        await throttle.failLogin(client.ip, account)
        // The cause is for the audit log only: the answer is the same for all three.
        audit(client, { event: 'login', outcome: !user ? 'unknown_user' : !ok ? 'wrong_password' : 'inactive', userId })
        return null
      }
      if (email.verification === 'mandatory' && !user.emailVerified) {
        audit(client, { event: 'login', outcome: 'unverified', userId })
        throw new ApiError(400, { non_field_errors: [UNVERIFIED] })
      }
      // A second factor is asked for: no session yet, an ephemeral token to finish with.
      const factors = await mfa.status(user.id)
      if (factors.totp) {
        audit(client, { event: 'login', outcome: 'mfa_required', userId })
        return await challenge(user.id, user.passwordHash, factors.passkeys > 0)
      }
      const rehash = passwords.needsRehash(user.passwordHash) ? await passwords.hash(password) : undefined
      return await ctx.finishLogin(user, client, PASSWORD, { password, rehash })
    },

    async completeLogin ({ ephemeral_token: ephemeral, code, credential, ...client }) {
      const key = ticketKey(ephemeral)
      const ticket = key === null ? null : await store.getTicket(key)
      const pending = ticket === null ? null : parsePending(ticket.value)
      if (key === null || pending === null || pending.expires <= mfa.now()) {
        audit(client, { event: 'mfa_challenge', outcome: 'expired', userId: pending?.userId ?? null })
        throw invalidEphemeral()
      }
      const { userId } = pending
      const account = accountOf(userId)
      await ctx.auditThrottled(() => throttle.checkLogin(client.ip, account), client, { event: 'mfa_challenge', outcome: 'throttled', userId })
      let amr: readonly string[]
      if (credential !== undefined) {
        // Another user's passkey is no second factor of this one's.
        const result = await passkeys.authenticate(credential, userId)
        if (!result.ok && result.reason === 'cloned') audit(client, { event: 'passkey_login', outcome: 'cloned', userId })
        if (!result.ok) await wrongCode(key, account, client, { event: 'mfa_challenge', outcome: 'passkey_failed', userId }, 'credential')
        audit(client, { event: 'mfa_challenge', outcome: 'passkey_passed', userId })
        amr = PASSWORD_AND_PASSKEY
      } else {
        const method = code === undefined ? null : await mfa.useCode(userId, code)
        if (method === null) {
          const outcome = code !== undefined && /^\d{6}$/.test(code) ? 'totp_failed' : 'recovery_code_failed'
          await wrongCode(key, account, client, { event: 'mfa_challenge', outcome, userId }, 'code')
        }
        audit(client, { event: 'mfa_challenge', outcome: method === 'totp' ? 'totp_passed' : 'recovery_code_used', userId })
        if (method === 'recovery_code') notify.user(userId, 'recovery_code_used')
        amr = PASSWORD_AND_OTP
      }
      // Single use: of two requests that both gave a right code, one takes the token.
      if ((await store.takeTicket(key)) === null) throw invalidEphemeral()
      const user = await users.findById(userId)
      // The password checked at the first step must still be the account's (a change or reset in
      // between ends this sign-in, as it ends sessions); the compare-and-set in finishLogin checks it again.
      if (!user || !user.isActive || hashPrint(user.passwordHash) !== pending.hash) {
        audit(client, { event: 'login', outcome: 'wrong_password', userId })
        throw invalidEphemeral()
      }
      const session = await ctx.finishLogin(user, client, amr)
      if (!session) throw invalidEphemeral()
      return session
    },

    async refresh (claims, client) {
      if (!claims || claims.token_type !== 'refresh') {
        // Not a token this service signed (or not a refresh token): nobody is named.
        audit(client, { event: 'refresh', outcome: 'unknown', userId: null })
        throw tokenNotValid()
      }
      const keep = !rotateRefreshTokens
      const result = await store.rotate({ sid: claims.sid, userId: claims.user_id, jti: claims.jti, newJti: tokens.newId(), keep })
      const record = { event: 'refresh', userId: claims.user_id, sid: claims.sid } as const
      switch (result.status) {
        case 'rotated':
        case 'grace':
        case 'kept': {
          audit(client, { ...record, outcome: result.status })
          // The sign-in the session began with goes on in every token of it.
          const signIn = signInOf(claims)
          const access = tokens.signAccess(claims.user_id, claims.sid, nowSeconds(), signIn)
          // Without rotation the client keeps the refresh token it has (SimpleJWT: {"access"} only).
          return keep ? { access } : { access, refresh: tokens.signRefresh(claims.user_id, claims.sid, result.refresh, signIn) }
        }
        case 'reused':
          // A replayed token: the session is revoked, whoever holds its tokens.
          audit(client, { ...record, outcome: 'reuse_detected' })
          notify.user(claims.user_id, 'session_reuse')
          throw tokenNotValid(TOKEN_BLACKLISTED)
        case 'revoked':
          audit(client, { ...record, outcome: 'revoked' })
          throw tokenNotValid(TOKEN_BLACKLISTED)
        default:
          audit(client, { ...record, outcome: 'unknown' })
          throw tokenNotValid()
      }
    },

    async verify (token) {
      const claims = tokens.verify(token)
      if (!claims) return false
      const session = { userId: claims.user_id, sid: claims.sid }
      if (claims.token_type === 'access') return store.isSessionActive(session)
      return (await store.refreshStatus(session, claims.jti)) === 'current'
    },

    async logout (userId, refreshToken, client) {
      const claims = tokens.verify(refreshToken)
      if (!claims || claims.token_type !== 'refresh') throw new ApiError(400, { error: `Invalid refresh token: ${TOKEN_INVALID}` })
      const session = { userId: claims.user_id, sid: claims.sid }
      const status = await store.refreshStatus(session, claims.jti)
      if (status === 'blacklisted') throw new ApiError(400, { error: `Invalid refresh token: ${TOKEN_BLACKLISTED}` })
      if (status === 'unknown') throw new ApiError(400, { error: `Invalid refresh token: ${TOKEN_INVALID}` })
      if (userId !== null && claims.user_id !== userId) throw new ApiError(403, { error: 'Token does not belong to user' })
      await store.revokeSession(session)
      audit(client, { event: 'logout', outcome: 'success', userId: claims.user_id, sid: claims.sid })
    },

    async logoutAll (caller, exceptCurrent, client) {
      const sessions = await store.revokeUserSessions(caller.userId, exceptCurrent ? caller.sid : undefined)
      audit(client, { event: 'logout_all', outcome: 'success', userId: caller.userId, sid: caller.sid, sessions })
      return sessions
    },

    async sessions ({ userId, sid }) {
      return (await store.listSessions(userId)).map((s) => ({
        id: s.sid,
        created: iso(s.created),
        last_used: iso(s.lastUsed),
        expires: iso(s.expires * 1000),
        ip: s.ip,
        user_agent: s.userAgent,
        amr: s.amr,
        auth_time: Math.floor(s.created / 1000),
        current: s.sid === sid
      }))
    },

    async revokeSession (caller, sid, client) {
      const revoked = await store.revokeSession({ userId: caller.userId, sid })
      if (revoked) audit(client, { event: 'session_revoked', outcome: 'success', userId: caller.userId, sid })
      return revoked
    }
  }
}
