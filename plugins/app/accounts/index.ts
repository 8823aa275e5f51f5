// The account flows behind the routes: register, login, the current user and its profile,
// sessions with their tokens (rotate, verify, logout, list, revoke), password change and reset,
// e-mail verification and account deletion. Each route maps HTTP to one call here and back.
import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import { accessTokenNotValid, ApiError, DependencyError, fieldErrors, TOKEN_BLACKLISTED, TOKEN_INVALID, tokenNotValid } from '../errors.js'
import { expiryVars, fillLink } from '../mail/index.js'
import type { User } from '../users.js'
import { UniqueViolationError } from '../users.js'
import { foldUsername } from '../usernames.js'
import { createLinks } from './links.js'
import type { AuditContext, AuditRecord } from '../audit.js'

export interface TokenPair {
  access: string
  refresh: string
}

export interface PublicUser {
  id: string
  username: string
  email: string
  first_name: string
  last_name: string
  email_verified: boolean
}

/** A session as GET /api/auth/sessions/ shows it. */
export interface SessionView {
  id: string
  created: string
  last_used: string
  expires: string
  ip: string
  user_agent: string
  current: boolean
}

/** The caller of a protected route. */
export interface Caller {
  userId: string
  sid: string
}

export interface PasswordChange {
  old_password: string
  new_password1: string
  new_password2: string
}

export interface PasswordResetConfirm {
  uid: string
  token: string
  new_password1: string
  new_password2: string
}

export interface RegisterInput {
  username: string
  email: string
  password: string
  first_name: string
  last_name: string
}

/** Who is asking (address, user agent, request id): the failure limits count by address, a new session records the first two, the audit log all three. */
export type Client = AuditContext

export interface LoginInput extends Client {
  /** The username, or the account's email. */
  login: string
  password: string
}

export type FieldErrors = Record<string, string[]>

export interface Accounts {
  /**
   * What the registration rules say of the input (a case-folded username or email too long, a
   * taken one, the password validators), field by field, leaving out the fields in `skip` (those
   * the caller already refused). {} when nothing is wrong. Writes nothing.
   */
  registrationErrors(input: RegisterInput, skip?: Iterable<string>): Promise<FieldErrors>
  /**
   * Creates the user and its first session; a 400 with every registrationErrors problem otherwise.
   * With mandatory e-mail verification there is no session yet (tokens null): login waits for the link.
   */
  register(input: RegisterInput, client: Client): Promise<{ user: PublicUser; tokens: TokenPair | null }>
  /**
   * A new session for these credentials, or null (wrong password, unknown or inactive user: the
   * same work and answer for all). A 429 ApiError when the failure limits are reached; a 400 when
   * the password is right but verification is mandatory and the e-mail is not verified yet.
   */
  login(input: LoginInput): Promise<{ user: PublicUser; tokens: TokenPair } | null>
  /**
   * The user of a protected request; 401 (as for a bad token) when it is gone or inactive. While
   * the database is unavailable, the copy this instance saw last (at login, register or /me).
   */
  me(userId: string): Promise<PublicUser>
  /** PATCH /me: the names only. 401 when the user is gone. */
  updateProfile(userId: string, fields: { first_name?: string; last_name?: string }): Promise<PublicUser>
  refresh(token: string, client: Client): Promise<TokenPair>
  verify(token: string): Promise<boolean>
  logout(userId: string, refreshToken: string, client: Client): Promise<void>
  /** Every session of the caller's user, or every one but the caller's own; how many were revoked. */
  logoutAll(caller: Caller, exceptCurrent: boolean, client: Client): Promise<number>
  /** The caller's live sessions, newest first. */
  sessions(caller: Caller): Promise<SessionView[]>
  /** One of the caller's user's sessions; false when it is not a live session of theirs. */
  revokeSession(caller: Caller, sid: string, client: Client): Promise<boolean>
  /** Every other session of the user is revoked, the caller's kept. 400 field errors; 429 like a login. */
  changePassword(caller: Caller, input: PasswordChange, client: Client): Promise<void>
  /** Mails a reset link when an active account has this email; the same work and answer otherwise. */
  requestPasswordReset(email: string, client: Client): Promise<void>
  /** Sets the password from a reset link and revokes every session. 400 field errors. */
  confirmPasswordReset(input: PasswordResetConfirm, client: Client): Promise<void>
  /** Marks the email of a verification key verified; false for an unknown, used or expired key. */
  verifyEmail(key: string, client: Client): Promise<boolean>
  /** Mails a new verification link when an active, unverified account has this email; silent otherwise. */
  resendVerification(email: string): Promise<void>
  /** Deletes the user and every session after checking the password (400 otherwise; 429 like a login). */
  deleteAccount(userId: string, password: string, client: Client): Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    accounts: Accounts
  }
}

export const publicUser = (u: User): PublicUser => ({
  id: u.id,
  username: u.username,
  email: u.email,
  first_name: u.firstName,
  last_name: u.lastName,
  email_verified: u.emailVerified
})

/** Users remembered for me() while the database is down: the most recently seen, per instance. */
const RECENT_USERS = 10_000

const MESSAGES = {
  oldPassword: 'Your old password was entered incorrectly. Please enter it again.',
  mismatch: 'The two password fields didn\u2019t match.',
  wrongPassword: 'Your password was entered incorrectly.',
  invalid: 'Invalid value',
  unverified: 'E-mail is not verified.'
} as const

const UNIQUE_MESSAGES = {
  username: 'A user with that username already exists.',
  email: 'A user with that email already exists.'
} as const

export default fp(
  async (fastify) => {
    const { users, passwords, tokens, throttle, mail, config, audit } = fastify
    const store = fastify.tokenStore
    const email = config.email
    const links = createLinks({ secret: config.jwt.signingKey, resetTimeout: email.resetTimeout, verifyTimeout: email.verifyTimeout })

    const nowSeconds = () => Math.floor(Date.now() / 1000)
    /** The session a token pair belongs to (for the audit log). */
    const sidOf = (pair: TokenPair) => tokens.verify(pair.refresh)?.sid ?? null

    // Stale-if-error for me(): a protected route should not need the database, and the session
    // check that guards it does not. Bounded; the oldest seen goes first.
    const recent = new Map<string, PublicUser>()
    const remember = (user: PublicUser) => {
      recent.delete(user.id)
      recent.set(user.id, user)
      if (recent.size > RECENT_USERS) recent.delete(recent.keys().next().value!)
      return user
    }

    // Session records take their times from the store's clock; access tokens, checked against
    // each instance's own clock, from this one.
    async function startSession(userId: string, { ip, userAgent }: Client): Promise<TokenPair> {
      const sid = tokens.newId()
      const refresh = await store.createSession({ sid, userId, jti: tokens.newId(), ip, userAgent })
      return { access: tokens.signAccess(userId, sid, nowSeconds()), refresh: tokens.signRefresh(userId, sid, refresh) }
    }

    /**
     * Revokes the user's sessions (but `exceptSid`) around a change that must end them: before it,
     * so a failure leaves the sessions ended rather than the change half-done, and after it, for a
     * session a concurrent login started in between.
     */
    async function revokingAround<T>(userId: string, exceptSid: string | undefined, change: () => Promise<T>): Promise<T> {
      await store.revokeUserSessions(userId, exceptSid)
      const result = await change()
      await store.revokeUserSessions(userId, exceptSid)
      return result
    }

    // Mail is made and sent after the answer (setImmediate runs once the reply is written), never
    // awaited: an answer takes the same time whether or not an account exists, and delivery is not
    // the request's business (failures are logged and counted by the mail plugin).
    const later = (work: () => void) => void setImmediate(work)
    function sendVerification(user: User) {
      later(() => {
        const link = fillLink(email.verifyUrl, { key: links.verifyKey(user) })
        void mail.send('verify-email', user.email, { link, username: user.username, email: user.email, ...expiryVars(email.verifyTimeout) })
      })
    }

    /** Django's SetPasswordForm: both fields, then the validators; every message under new_password2. */
    function newPasswordErrors(p1: string, p2: string, user: User): FieldErrors {
      if (p1 !== p2) return { new_password2: [MESSAGES.mismatch] }
      const messages = passwords.validate(p2, { username: user.username, email: user.email, first_name: user.firstName, last_name: user.lastName })
      return messages.length > 0 ? { new_password2: messages } : {}
    }

    /**
     * The password of an authenticated account, checked like a login: the failure limits apply
     * (a stolen access token must not become a password oracle) and a wrong one counts against them.
     */
    async function checkOwnPassword(user: User, password: string, client: Client, event: 'password_changed' | 'account_deleted'): Promise<boolean> {
      const account = `user:${user.id}`
      await auditThrottled(() => throttle.checkLogin(client.ip, account), client, { event, outcome: 'throttled', userId: user.id })
      const ok = await passwords.verify(password, user.passwordHash)
      if (!ok) {
        await throttle.failLogin(client.ip, account)
        audit(client, { event, outcome: 'wrong_password', userId: user.id })
      }
      return ok
    }

    /** A throttle check whose refusal (a 429) is audited before it is thrown. */
    async function auditThrottled(check: () => Promise<void>, client: Client, record: AuditRecord): Promise<void> {
      try {
        await check()
      } catch (err) {
        if (err instanceof ApiError && err.statusCode === 429) audit(client, record)
        throw err
      }
    }

    async function currentUser(userId: string): Promise<User> {
      const user = await users.findById(userId)
      if (!user || !user.isActive) {
        recent.delete(userId)
        throw accessTokenNotValid()
      }
      return user
    }

    async function registrationErrors(input: RegisterInput, skip: Iterable<string> = []): Promise<FieldErrors> {
      const refused = new Set(skip)
      const errors: FieldErrors = {}
      const add = (field: string, message: string) => (errors[field] ??= []).push(message)
      const checked = (field: string) => !refused.has(field) && !errors[field]
      // Some characters grow when case-folded (İ -> i̇, ß -> ss): the folded copy the database
      // keeps must fit its column too, or a client mistake would reach the database as an error.
      for (const [field, max, fold] of [['username', 150, foldUsername], ['email', 254, (e: string) => e.toLowerCase()]] as const) {
        if (checked(field) && fold(input[field]).length > max) add(field, `Ensure this field has no more than ${max} characters.`)
      }
      // Uniqueness is reported for the fields that are otherwise valid, like DRF's validators.
      if (checked('username') || checked('email')) {
        // A refused value never reaches the database (it may hold what its text type cannot).
        const taken = await users.taken(checked('username') ? input.username : '', checked('email') ? input.email : '')
        if (taken.username && checked('username')) add('username', UNIQUE_MESSAGES.username)
        if (taken.email && checked('email')) add('email', UNIQUE_MESSAGES.email)
      }
      if (checked('password')) {
        for (const message of passwords.validate(input.password, input)) add('password', message)
      }
      return errors
    }

    const accounts: Accounts = {
      registrationErrors,

      async register(input, client) {
        const errors = await registrationErrors(input)
        if (Object.keys(errors).length > 0) throw fieldErrors(errors)

        const passwordHash = await passwords.hash(input.password)
        const fields = { username: input.username, email: input.email, passwordHash, firstName: input.first_name, lastName: input.last_name }
        const uniqueError = (err: unknown) =>
          err instanceof UniqueViolationError ? fieldErrors(Object.fromEntries(err.fields.map((f) => [f, [UNIQUE_MESSAGES[f]]]))) : err
        let user: User
        let pair: TokenPair | null = null
        if (email.verification === 'mandatory') {
          // No session until the e-mail is verified: login starts the first one.
          user = await users.create(fields).catch((err: unknown) => Promise.reject(uniqueError(err)))
        } else {
          // The session first, for an id made here: if the store fails, nothing was written; if the
          // user's insert fails, the session belongs to nobody and its tokens were never handed out
          // (it is revoked all the same). So a failed registration never leaves a user behind.
          const id = randomUUID()
          pair = await startSession(id, client)
          try {
            user = await users.create({ id, ...fields })
          } catch (err) {
            const sid = sidOf(pair)
            if (sid) await store.revokeSession({ userId: id, sid }).catch(() => {})
            throw uniqueError(err)
          }
        }
        if (email.verification !== 'none') sendVerification(user)
        audit(client, { event: 'register', outcome: 'success', userId: user.id, sid: pair ? sidOf(pair) : null })
        return { user: remember(publicUser(user)), tokens: pair }
      },

      async login({ login, password, ...client }) {
        const user = await users.findByLogin(login)
        const userId = user?.id ?? null
        // The failure limits count per account, whichever way it was named (username in any
        // case, or its email); a name that designates nobody is its own bucket.
        const account = user ? `user:${user.id}` : `name:${foldUsername(login)}`
        await auditThrottled(() => throttle.checkLogin(client.ip, account), client, { event: 'login', outcome: 'throttled', userId })
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
          throw new ApiError(400, { non_field_errors: [MESSAGES.unverified] })
        }
        const rehash = passwords.needsRehash(user.passwordHash) ? await passwords.hash(password) : undefined
        // last_login moves: every password reset link made before this login stops working.
        await users.recordLogin(user.id, new Date(), rehash)
        const pair = await startSession(user.id, client)
        audit(client, { event: 'login', outcome: 'success', userId, sid: sidOf(pair) })
        return { user: remember(publicUser(user)), tokens: pair }
      },

      async me(userId) {
        try {
          return remember(publicUser(await currentUser(userId)))
        } catch (err) {
          const copy = recent.get(userId)
          if (err instanceof DependencyError && copy) return copy
          throw err
        }
      },

      async updateProfile(userId, { first_name, last_name }) {
        const user = await users.updateProfile(userId, { firstName: first_name, lastName: last_name })
        if (!user || !user.isActive) throw accessTokenNotValid()
        return remember(publicUser(user))
      },

      async refresh(token, client) {
        const claims = tokens.verify(token)
        if (!claims || claims.token_type !== 'refresh') {
          // Not a token this service signed (or not a refresh token): nobody is named.
          audit(client, { event: 'refresh', outcome: 'unknown', userId: null })
          throw tokenNotValid()
        }
        const result = await store.rotate({ sid: claims.sid, userId: claims.user_id, jti: claims.jti, newJti: tokens.newId() })
        const record = { event: 'refresh', userId: claims.user_id, sid: claims.sid } as const
        switch (result.status) {
          case 'rotated':
          case 'grace':
            audit(client, { ...record, outcome: result.status })
            return {
              access: tokens.signAccess(claims.user_id, claims.sid, nowSeconds()),
              refresh: tokens.signRefresh(claims.user_id, claims.sid, result.refresh)
            }
          case 'reused':
            // A replayed token: the session is revoked, whoever holds its tokens.
            audit(client, { ...record, outcome: 'reuse_detected' })
            throw tokenNotValid(TOKEN_BLACKLISTED)
          case 'revoked':
            audit(client, { ...record, outcome: 'revoked' })
            throw tokenNotValid(TOKEN_BLACKLISTED)
          default:
            audit(client, { ...record, outcome: 'unknown' })
            throw tokenNotValid()
        }
      },

      async verify(token) {
        const claims = tokens.verify(token)
        if (!claims) return false
        const session = { userId: claims.user_id, sid: claims.sid }
        if (claims.token_type === 'access') return store.isSessionActive(session)
        return (await store.refreshStatus(session, claims.jti)) === 'current'
      },

      async logout(userId, refreshToken, client) {
        const claims = tokens.verify(refreshToken)
        if (!claims || claims.token_type !== 'refresh') throw new ApiError(400, { error: `Invalid refresh token: ${TOKEN_INVALID}` })
        const session = { userId: claims.user_id, sid: claims.sid }
        const status = await store.refreshStatus(session, claims.jti)
        if (status === 'blacklisted') throw new ApiError(400, { error: `Invalid refresh token: ${TOKEN_BLACKLISTED}` })
        if (status === 'unknown') throw new ApiError(400, { error: `Invalid refresh token: ${TOKEN_INVALID}` })
        if (claims.user_id !== userId) throw new ApiError(403, { error: 'Token does not belong to user' })
        await store.revokeSession(session)
        audit(client, { event: 'logout', outcome: 'success', userId, sid: claims.sid })
      },

      async logoutAll(caller, exceptCurrent, client) {
        const sessions = await store.revokeUserSessions(caller.userId, exceptCurrent ? caller.sid : undefined)
        audit(client, { event: 'logout_all', outcome: 'success', userId: caller.userId, sid: caller.sid, sessions })
        return sessions
      },

      async sessions({ userId, sid }) {
        const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
        return (await store.listSessions(userId)).map((s) => ({
          id: s.sid,
          created: iso(s.created),
          last_used: iso(s.lastUsed),
          expires: iso(s.expires * 1000),
          ip: s.ip,
          user_agent: s.userAgent,
          current: s.sid === sid
        }))
      },

      async revokeSession(caller, sid, client) {
        const revoked = await store.revokeSession({ userId: caller.userId, sid })
        if (revoked) audit(client, { event: 'session_revoked', outcome: 'success', userId: caller.userId, sid })
        return revoked
      },

      async changePassword(caller, { old_password, new_password1, new_password2 }, client) {
        const user = await currentUser(caller.userId)
        if (!(await checkOwnPassword(user, old_password, client, 'password_changed'))) throw fieldErrors({ old_password: [MESSAGES.oldPassword] })
        const errors = newPasswordErrors(new_password1, new_password2, user)
        if (Object.keys(errors).length > 0) throw fieldErrors(errors)
        const hash = await passwords.hash(new_password1)
        const changed = await revokingAround(user.id, caller.sid, () => users.replacePassword(user.id, user.passwordHash, hash))
        // Another change won the race: this one was checked against a password that is gone.
        if (!changed) throw fieldErrors({ old_password: [MESSAGES.oldPassword] })
        audit(client, { event: 'password_changed', outcome: 'success', userId: user.id, sid: caller.sid })
      },

      async requestPasswordReset(address, client) {
        const user = await users.findByEmail(address)
        // Django sends to active users with a usable password; anyone else gets the same answer.
        if (!user || !user.isActive) {
          audit(client, { event: 'password_reset_requested', outcome: 'no_account', userId: user?.id ?? null })
          return
        }
        audit(client, { event: 'password_reset_requested', outcome: 'sent', userId: user.id })
        later(() => {
          const link = fillLink(email.resetUrl, { uid: links.uid(user.id), token: links.resetToken(user) })
          void mail.send('password-reset', user.email, { link, username: user.username, email: user.email, ...expiryVars(email.resetTimeout) })
        })
      },

      async confirmPasswordReset({ uid, token, new_password1, new_password2 }, client) {
        const invalid = (userId: string | null, field: 'uid' | 'token') => {
          audit(client, { event: 'password_reset_completed', outcome: 'invalid_link', userId })
          return fieldErrors({ [field]: [MESSAGES.invalid] })
        }
        // dj-rest-auth's order: the uid, the token, then the new password.
        const id = links.decodeUid(uid)
        const user = id === null ? null : await users.findById(id)
        if (!user || !user.isActive) throw invalid(null, 'uid')
        if (!links.checkResetToken(user, token)) throw invalid(user.id, 'token')
        const errors = newPasswordErrors(new_password1, new_password2, user)
        if (Object.keys(errors).length > 0) throw fieldErrors(errors)
        const hash = await passwords.hash(new_password1)
        // Compare-and-set on the hash the token was made from: the link works once, whatever races.
        const changed = await revokingAround(user.id, undefined, () => users.replacePassword(user.id, user.passwordHash, hash))
        if (!changed) throw invalid(user.id, 'token')
        recent.delete(user.id)
        audit(client, { event: 'password_reset_completed', outcome: 'success', userId: user.id })
      },

      async verifyEmail(key, client) {
        const id = links.verifyKeyUser(key)
        const user = id === null ? null : await users.findById(id)
        const verified = !!user && user.isActive && links.checkVerifyKey(user, key) && (await users.verifyEmail(user.id, user.email))
        if (verified) recent.delete(user.id)
        audit(client, { event: 'email_verified', outcome: verified ? 'success' : 'invalid_key', userId: user?.id ?? null })
        return verified
      },

      async resendVerification(address) {
        if (email.verification === 'none') return
        const user = await users.findByEmail(address)
        if (!user || !user.isActive || user.emailVerified) return
        sendVerification(user)
      },

      async deleteAccount(userId, password, client) {
        const user = await currentUser(userId)
        if (!(await checkOwnPassword(user, password, client, 'account_deleted'))) throw fieldErrors({ password: [MESSAGES.wrongPassword] })
        await revokingAround(user.id, undefined, () => users.delete(user.id))
        recent.delete(user.id)
        audit(client, { event: 'account_deleted', outcome: 'success', userId: user.id })
      }
    }
    fastify.decorate('accounts', accounts)
  },
  { name: 'accounts', dependencies: ['config', 'users', 'passwords', 'token-store', 'jwt', 'throttle', 'mail', 'audit'] }
)
