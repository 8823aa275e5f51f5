// The session flows: login, refresh (rotation), verify, logout, logout-all, and the sessions list
// with signing one device out.
import { ApiError, TOKEN_BLACKLISTED, TOKEN_INVALID, tokenNotValid } from '../errors.js'
import { foldUsername } from '../usernames.js'
import { accountOf, nowSeconds, type FlowContext } from './context.js'
import { publicUser, type Accounts } from './types.js'

const UNVERIFIED = 'E-mail is not verified.'

/** SessionInfo times as the list shows them: ISO 8601 to the second. */
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')

type SessionFlows = Pick<Accounts, 'login' | 'refresh' | 'verify' | 'logout' | 'logoutAll' | 'sessions' | 'revokeSession'>

export function sessionFlows (ctx: FlowContext): SessionFlows {
  const { users, passwords, tokens, throttle, audit, store, email, recent, rotateRefreshTokens } = ctx

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
      const rehash = passwords.needsRehash(user.passwordHash) ? await passwords.hash(password) : undefined
      // The session starts first, then the login is recorded only if the password it checked is
      // still the account's (compare-and-set). A change, reset or deletion that wrote first makes
      // this login fail and ends its session; one that writes after has its session already in
      // the store, where the revocation that follows its write ends it. Either way a login whose
      // check began before the change never keeps a live session, on any store or instance.
      const session = await ctx.startSession(user.id, client)
      let recorded = false
      try {
        // last_login moves: every password reset link made before this login stops working.
        recorded = await users.recordLogin(user.id, new Date(), user.passwordHash, rehash)
        if (!recorded && rehash !== undefined) recorded = await afterConcurrentRehash(user.id, password)
      } finally {
        if (!recorded) await store.revokeSession({ userId: user.id, sid: session.sid }).catch(() => {})
      }
      if (!recorded) {
        audit(client, { event: 'login', outcome: 'wrong_password', userId })
        return null
      }
      audit(client, { event: 'login', outcome: 'success', userId, sid: session.sid })
      return { user: recent.remember(publicUser(user)), tokens: session.tokens }
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
          const access = tokens.signAccess(claims.user_id, claims.sid, nowSeconds())
          // Without rotation the client keeps the refresh token it has (SimpleJWT: {"access"} only).
          return keep ? { access } : { access, refresh: tokens.signRefresh(claims.user_id, claims.sid, result.refresh) }
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
