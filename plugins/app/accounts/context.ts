// What every account flow shares: the plugins they call, and the few steps more than one flow
// takes (start a session, find the caller's user, check the caller's own password like a login,
// end a user's sessions around a change). Each flow file takes this and gives its part of the door.
import type { FastifyInstance } from 'fastify'
import { ApiError, REQUIRED, accessTokenNotValid, fieldErrors } from '../errors.js'
import type { AuditRecord } from '../audit.js'
import type { User } from '../users.js'
import { createLinks } from './links.js'
import { RecentUsers } from './recent-users.js'
import { publicUser, type Caller, type Client, type PublicUser, type TokenPair } from './types.js'

/** The events whose flow checks the caller's own password. */
type OwnPasswordEvent = 'password_changed' | 'account_deleted' | 'mfa_disabled' | 'recovery_codes_regenerated' | 'email_change_requested'

export const INVALID_CODE = 'Invalid code.'

export type FlowContext = ReturnType<typeof createContext>

export function createContext (fastify: FastifyInstance) {
  const { users, passwords, tokens, throttle, mail, config, audit, mfa, passkeys, notify, tokenStore: store } = fastify
  const { reauthMaxAge } = config.mfa
  const email = config.email
  const links = createLinks({ secret: config.jwt.signingKey, resetTimeout: email.resetTimeout, verifyTimeout: email.verifyTimeout })
  const recent = new RecentUsers()

  // Session records take their times from the store's clock; access tokens, checked against
  // each instance's own clock, from this one.
  // The sign-in's time (auth_time) is the session's start, by the store's clock, as the sessions list shows it.
  async function startSession (userId: string, { ip, userAgent }: Client, amr: readonly string[] = PASSWORD): Promise<{ sid: string; tokens: TokenPair }> {
    const sid = tokens.newId()
    const refresh = await store.createSession({ sid, userId, jti: tokens.newId(), ip, userAgent, amr })
    const signIn = { amr, auth_time: refresh.iat }
    return { sid, tokens: { access: tokens.signAccess(userId, sid, nowSeconds(), signIn), refresh: tokens.signRefresh(userId, sid, refresh, signIn) } }
  }

  /** The user behind a valid access token: 401 (as for a bad token) when it is gone or inactive. */
  async function currentUser (userId: string): Promise<User> {
    const user = await users.findById(userId)
    if (!user || !user.isActive) {
      recent.forget(userId)
      throw accessTokenNotValid()
    }
    return user
  }

  /** A throttle check whose refusal (a 429) is audited before it is thrown. */
  async function auditThrottled (check: () => Promise<void>, client: Client, record: AuditRecord): Promise<void> {
    try {
      await check()
    } catch (err) {
      if (err instanceof ApiError && err.statusCode === 429) audit(client, record)
      throw err
    }
  }

  /**
   * The password of an authenticated account, checked like a login: the failure limits apply
   * (a stolen access token must not become a password oracle) and a wrong one counts against them.
   * `sid` is the caller's session, named in the audit lines.
   */
  async function checkOwnPassword (user: User, password: string, client: Client, event: OwnPasswordEvent, sid: string): Promise<boolean> {
    const account = accountOf(user.id)
    await auditThrottled(() => throttle.checkLogin(client.ip, account), client, { event, outcome: 'throttled', userId: user.id, sid })
    const ok = await passwords.verify(password, user.passwordHash)
    if (!ok) {
      await throttle.failLogin(client.ip, account)
      audit(client, { event, outcome: 'wrong_password', userId: user.id, sid })
    }
    return ok
  }

  /**
   * Revokes the user's sessions (but `exceptSid`) around a change that must end them: before it,
   * so a failure leaves the sessions ended rather than the change half-done, and after it, for a
   * session a concurrent login started in between.
   */
  async function revokingAround<T> (userId: string, exceptSid: string | undefined, change: () => Promise<T>): Promise<T> {
    await store.revokeUserSessions(userId, exceptSid)
    const result = await change()
    await store.revokeUserSessions(userId, exceptSid)
    return result
  }

  /**
   * A login's compare-and-set lost, and it had re-hashed: another login of the same password may
   * have re-hashed it first. The login stands if the hash now stored still takes the password
   * (checked, then recorded by compare-and-set again); after a change or reset it does not.
   */
  async function afterConcurrentRehash (userId: string, password: string): Promise<boolean> {
    const current = await users.findById(userId)
    if (!current || !current.isActive || !(await passwords.verify(password, current.passwordHash))) return false
    return users.recordLogin(userId, new Date(), current.passwordHash)
  }

  /**
   * Starts the session of a sign-in whose checks passed. The session starts first, then the login
   * is recorded only if the password it checked (`verifiedHash`) is still the account's
   * (compare-and-set). A change, reset or deletion that wrote first makes this login fail and ends
   * its session; one that writes after has its session already in the store, where the revocation
   * that follows its write ends it. Either way a login whose check began before the change never
   * keeps a live session, on any store or instance. null when it lost. `user` as read before the
   * password was checked.
   */
  async function finishLogin (
    user: User,
    client: Client,
    amr: readonly string[],
    rehashing?: { password: string; rehash: string | undefined }
  ): Promise<{ user: PublicUser; tokens: TokenPair } | null> {
    const userId = user.id
    const session = await startSession(userId, client, amr)
    let recorded = false
    try {
      // last_login moves: every password reset link made before this login stops working.
      recorded = await users.recordLogin(userId, new Date(), user.passwordHash, rehashing?.rehash)
      if (!recorded && rehashing?.rehash !== undefined) recorded = await afterConcurrentRehash(userId, rehashing.password)
    } finally {
      if (!recorded) await store.revokeSession({ userId, sid: session.sid }).catch(() => {})
    }
    if (!recorded) {
      audit(client, { event: 'login', outcome: 'wrong_password', userId })
      return null
    }
    audit(client, { event: 'login', outcome: 'success', userId, sid: session.sid })
    // After the answer: a device not seen in 90 days gets the user a notice pointing at this session.
    notify.signedIn(user, client, { sid: session.sid })
    return { user: recent.remember(publicUser(user)), tokens: session.tokens }
  }

  /**
   * Step-up: for a user with a second factor, a sensitive operation needs a second factor given
   * within REAUTH_MAX_AGE by the caller's session (its access token says so), or a `code` (TOTP or
   * recovery code) now. A wrong code counts as a failed login of the account, as a wrong password does.
   */
  async function stepUp (caller: Caller, code: string | undefined, client: Client): Promise<void> {
    const { signIn } = caller
    if (signIn.amr.includes('mfa') && nowSeconds() - signIn.auth_time <= reauthMaxAge) return
    const factors = await mfa.status(caller.userId)
    if (!factors.totp && factors.passkeys === 0) return
    const record = { event: 'step_up', userId: caller.userId, sid: caller.sid } as const
    if (code === undefined || code === '') {
      audit(client, { ...record, outcome: 'refused' })
      throw fieldErrors({ code: [REQUIRED] })
    }
    const account = accountOf(caller.userId)
    await auditThrottled(() => throttle.checkLogin(client.ip, account), client, { ...record, outcome: 'throttled' })
    const method = await mfa.useCode(caller.userId, code)
    if (method === null) {
      await throttle.failLogin(client.ip, account)
      audit(client, { ...record, outcome: 'failed' })
      throw fieldErrors({ code: [INVALID_CODE] })
    }
    if (method === 'recovery_code') notify.user(caller.userId, 'recovery_code_used')
    audit(client, { ...record, outcome: 'passed' })
  }

  const rotateRefreshTokens = config.rotateRefreshTokens
  return {
    users,
    passwords,
    tokens,
    throttle,
    mail,
    audit,
    mfa,
    store,
    email,
    links,
    recent,
    rotateRefreshTokens,
    startSession,
    currentUser,
    auditThrottled,
    checkOwnPassword,
    revokingAround,
    stepUp,
    finishLogin,
    passkeys,
    notify
  }
}

/** amr (RFC 8176) of the ways to sign in: a password; a password and a one-time code; a passkey (a hardware key with user verification). */
export const PASSWORD = ['pwd'] as const
export const PASSWORD_AND_OTP = ['pwd', 'otp', 'mfa'] as const
export const PASSKEY = ['hwk', 'mfa'] as const
export const PASSWORD_AND_PASSKEY = ['pwd', 'hwk', 'mfa'] as const

export const nowSeconds = () => Math.floor(Date.now() / 1000)

/** The failure limits' bucket of a known account (a name that designates nobody has its own: login). */
export const accountOf = (userId: string) => `user:${userId}`

// Mail is made and sent after the answer (setImmediate runs once the reply is written), never
// awaited: an answer takes the same time whether or not an account exists, and delivery is not
// the request's business (failures are logged and counted by the mail plugin).
export const later = (work: () => void): void => {
  setImmediate(work)
}
