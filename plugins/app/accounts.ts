// The account flows behind the routes: register, login, the current user, and sessions with
// their tokens (rotate, verify, logout). Each route maps HTTP to one call here and back.
import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import { accessTokenNotValid, ApiError, DependencyError, fieldErrors, TOKEN_BLACKLISTED, TOKEN_INVALID, tokenNotValid } from './errors.js'
import type { User } from './users.js'
import { UniqueViolationError } from './users.js'
import { foldUsername } from './usernames.js'

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
}

export interface RegisterInput {
  username: string
  email: string
  password: string
  first_name: string
  last_name: string
}

/** Who is asking: the failure limits count by address; a new session records both. */
export interface Client {
  ip: string
  userAgent: string
}

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
  /** Creates the user and its first session; a 400 with every registrationErrors problem otherwise. */
  register(input: RegisterInput, client: Client): Promise<{ user: PublicUser; tokens: TokenPair }>
  /**
   * A new session for these credentials, or null (wrong password, unknown or inactive user: the
   * same work and answer for all). A 429 ApiError when the failure limits are reached.
   */
  login(input: LoginInput): Promise<{ user: PublicUser; tokens: TokenPair } | null>
  /**
   * The user of a protected request; 401 (as for a bad token) when it is gone or inactive. While
   * the database is unavailable, the copy this instance saw last (at login, register or /me).
   */
  me(userId: string): Promise<PublicUser>
  refresh(token: string): Promise<TokenPair>
  verify(token: string): Promise<boolean>
  logout(userId: string, refreshToken: string): Promise<void>
  logoutAll(userId: string): Promise<number>
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
  last_name: u.lastName
})

/** Users remembered for me() while the database is down: the most recently seen, per instance. */
const RECENT_USERS = 10_000

const UNIQUE_MESSAGES = {
  username: 'A user with that username already exists.',
  email: 'A user with that email already exists.'
} as const

export default fp(
  async (fastify) => {
    const { users, passwords, tokens, throttle, log } = fastify
    const store = fastify.tokenStore

    const nowSeconds = () => Math.floor(Date.now() / 1000)

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
        // The session first, for an id made here: if the store fails, nothing was written; if the
        // user's insert fails, the session belongs to nobody and its tokens were never handed out
        // (it is revoked all the same). So a failed registration never leaves a user behind.
        const id = randomUUID()
        const pair = await startSession(id, client)
        let user: User
        try {
          user = await users.create({ id, username: input.username, email: input.email, passwordHash, firstName: input.first_name, lastName: input.last_name })
        } catch (err) {
          const sid = tokens.verify(pair.refresh)?.sid
          if (sid) await store.revokeSession({ userId: id, sid }).catch(() => {})
          if (err instanceof UniqueViolationError) {
            throw fieldErrors(Object.fromEntries(err.fields.map((f) => [f, [UNIQUE_MESSAGES[f]]])))
          }
          throw err
        }
        return { user: remember(publicUser(user)), tokens: pair }
      },

      async login({ login, password, ip, userAgent }) {
        const user = await users.findByLogin(login)
        // The failure limits count per account, whichever way it was named (username in any
        // case, or its email); a name that designates nobody is its own bucket.
        const account = user ? `user:${user.id}` : `name:${foldUsername(login)}`
        await throttle.checkLogin(ip, account)
        // Always one bcrypt compare: an unknown user costs the same as a wrong password.
        const ok = await passwords.verify(password, user?.passwordHash ?? null)
        if (!user || !ok || !user.isActive) {
          await throttle.failLogin(ip, account)
          return null
        }
        const rehash = passwords.needsRehash(user.passwordHash) ? await passwords.hash(password) : undefined
        await users.recordLogin(user.id, new Date(), rehash)
        return { user: remember(publicUser(user)), tokens: await startSession(user.id, { ip, userAgent }) }
      },

      async me(userId) {
        let user: User | null
        try {
          user = await users.findById(userId)
        } catch (err) {
          const copy = recent.get(userId)
          if (err instanceof DependencyError && copy) return copy
          throw err
        }
        if (!user || !user.isActive) {
          recent.delete(userId)
          throw accessTokenNotValid()
        }
        return remember(publicUser(user))
      },

      async refresh(token) {
        const claims = tokens.verify(token)
        if (!claims || claims.token_type !== 'refresh') throw tokenNotValid()
        const result = await store.rotate({ sid: claims.sid, userId: claims.user_id, jti: claims.jti, newJti: tokens.newId() })
        switch (result.status) {
          case 'rotated':
          case 'grace':
            return {
              access: tokens.signAccess(claims.user_id, claims.sid, nowSeconds()),
              refresh: tokens.signRefresh(claims.user_id, claims.sid, result.refresh)
            }
          case 'reused':
            log.warn({ sid: claims.sid, userId: claims.user_id }, 'refresh token reuse detected: session revoked')
            throw tokenNotValid(TOKEN_BLACKLISTED)
          case 'revoked':
            throw tokenNotValid(TOKEN_BLACKLISTED)
          default:
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

      async logout(userId, refreshToken) {
        const claims = tokens.verify(refreshToken)
        if (!claims || claims.token_type !== 'refresh') throw new ApiError(400, { error: `Invalid refresh token: ${TOKEN_INVALID}` })
        const session = { userId: claims.user_id, sid: claims.sid }
        const status = await store.refreshStatus(session, claims.jti)
        if (status === 'blacklisted') throw new ApiError(400, { error: `Invalid refresh token: ${TOKEN_BLACKLISTED}` })
        if (status === 'unknown') throw new ApiError(400, { error: `Invalid refresh token: ${TOKEN_INVALID}` })
        if (claims.user_id !== userId) throw new ApiError(403, { error: 'Token does not belong to user' })
        await store.revokeSession(session)
      },

      logoutAll: (userId) => store.revokeUserSessions(userId)
    }
    fastify.decorate('accounts', accounts)
  },
  { name: 'accounts', dependencies: ['config', 'users', 'passwords', 'token-store', 'jwt', 'throttle'] }
)
