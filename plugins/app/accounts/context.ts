// What every account flow shares: the plugins they call, and the few steps more than one flow
// takes (start a session, find the caller's user, check the caller's own password like a login,
// end a user's sessions around a change). Each flow file takes this and gives its part of the door.
import type { FastifyInstance } from 'fastify'
import { ApiError, accessTokenNotValid } from '../errors.js'
import type { AuditRecord } from '../audit.js'
import type { User } from '../users.js'
import { createLinks } from './links.js'
import { RecentUsers } from './recent-users.js'
import type { Client, TokenPair } from './types.js'

export type FlowContext = ReturnType<typeof createContext>

export function createContext (fastify: FastifyInstance) {
  const { users, passwords, tokens, throttle, mail, config, audit, tokenStore: store } = fastify
  const email = config.email
  const links = createLinks({ secret: config.jwt.signingKey, resetTimeout: email.resetTimeout, verifyTimeout: email.verifyTimeout })
  const recent = new RecentUsers()

  // Session records take their times from the store's clock; access tokens, checked against
  // each instance's own clock, from this one.
  async function startSession (userId: string, { ip, userAgent }: Client): Promise<{ sid: string; tokens: TokenPair }> {
    const sid = tokens.newId()
    const refresh = await store.createSession({ sid, userId, jti: tokens.newId(), ip, userAgent })
    return { sid, tokens: { access: tokens.signAccess(userId, sid, nowSeconds()), refresh: tokens.signRefresh(userId, sid, refresh) } }
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
  async function checkOwnPassword (user: User, password: string, client: Client, event: 'password_changed' | 'account_deleted', sid: string): Promise<boolean> {
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

  const rotateRefreshTokens = config.rotateRefreshTokens
  return { users, passwords, tokens, throttle, mail, audit, store, email, links, recent, rotateRefreshTokens, startSession, currentUser, auditThrottled, checkOwnPassword, revokingAround }
}

export const nowSeconds = () => Math.floor(Date.now() / 1000)

/** The failure limits' bucket of a known account (a name that designates nobody has its own: login). */
export const accountOf = (userId: string) => `user:${userId}`

// Mail is made and sent after the answer (setImmediate runs once the reply is written), never
// awaited: an answer takes the same time whether or not an account exists, and delivery is not
// the request's business (failures are logged and counted by the mail plugin).
export const later = (work: () => void): void => {
  setImmediate(work)
}
