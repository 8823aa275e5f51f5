// The administration door (`fastify.admin`): what the admin API (/api/admin/) may do to users, over
// the same users, token store, second-factor and accounts doors as the user's own flows. Who may
// act is read from the database on every call (`authorize`): a demoted or deactivated admin loses
// access at the very next request, whatever their token says. Every action is audited with the
// acting admin's id.
import fp from 'fastify-plugin'
import { ApiError, fieldErrors } from '../errors.js'
import { publicUser, type Caller, type Client, type PublicUser, type SessionView } from '../accounts/index.js'
import { foldEmail, UniqueViolationError, type AdminChange, type ListedUser, type User, type UserQuery } from '../users.js'

export const PERMISSION_DENIED = 'You do not have permission to perform this action.'
export const MFA_REQUIRED = 'Two-factor authentication is required for this action.'
const EMAIL_TAKEN = 'A user with that email already exists.'

/** The administrator a request acts as, as the database says now. */
export interface Admin {
  id: string
  isSuperuser: boolean
  /** The caller's session (named in the audit lines). */
  sid: string
}

/** A user as the admin API shows it: as in login, plus the account's state. */
export interface AdminUserView extends PublicUser {
  is_active: boolean
  is_staff: boolean
  is_superuser: boolean
  date_joined: string
  last_login: string | null
  mfa_enabled: boolean
}

/** PATCH /api/admin/users/{id}/: the API's field names. */
export interface UserPatch {
  first_name?: string
  last_name?: string
  email?: string
  email_verified?: boolean
  is_active?: boolean
  is_staff?: boolean
  is_superuser?: boolean
}

export interface AdminDoor {
  /** The caller as an administrator: 403 unless their user is active staff now (and, with ADMIN_REQUIRE_MFA, the token's amr has mfa). */
  authorize(caller: Caller, client: Client): Promise<Admin>
  listUsers(query: UserQuery): Promise<{ count: number; results: AdminUserView[] }>
  /** null: no such user. */
  getUser(id: string): Promise<AdminUserView | null>
  updateUser(admin: Admin, id: string, patch: UserPatch, client: Client): Promise<AdminUserView | null>
  /** false: no such user. */
  deleteUser(admin: Admin, id: string, client: Client): Promise<boolean>
  sessions(id: string): Promise<SessionView[] | null>
  /** false: no such user, or not a live session of theirs. */
  revokeSession(admin: Admin, id: string, sid: string, client: Client): Promise<boolean>
  /** How many sessions ended; null: no such user. */
  logoutAll(admin: Admin, id: string, client: Client): Promise<number | null>
  sendPasswordReset(admin: Admin, id: string, client: Client): Promise<boolean>
  /** TOTP off, recovery codes gone, every session revoked; false: no such user. */
  resetMfa(admin: Admin, id: string, client: Client): Promise<boolean>
}

declare module 'fastify' {
  interface FastifyInstance {
    admin: AdminDoor
  }
}

const denied = () => new ApiError(403, { detail: PERMISSION_DENIED })

const iso = (d: Date | null) => (d === null ? null : d.toISOString())

export const adminView = (u: User, mfaEnabled: boolean): AdminUserView => ({
  ...publicUser(u),
  is_active: u.isActive,
  is_staff: u.isStaff,
  is_superuser: u.isSuperuser,
  date_joined: u.dateJoined.toISOString(),
  last_login: iso(u.lastLogin),
  mfa_enabled: mfaEnabled
})

const listedView = (u: ListedUser) => adminView(u, u.mfaEnabled)

/** The patch's fields in the repository's names, and the API names of those that change something. */
function changeOf (patch: UserPatch, user: User): { change: AdminChange; changed: string[] } {
  const change: AdminChange = {}
  const changed: string[] = []
  const set = <K extends keyof AdminChange>(name: string, key: K, value: AdminChange[K] | undefined, current: AdminChange[K]) => {
    if (value === undefined || value === current) return
    change[key] = value
    changed.push(name)
  }
  set('first_name', 'firstName', patch.first_name, user.firstName)
  set('last_name', 'lastName', patch.last_name, user.lastName)
  if (patch.email !== undefined && patch.email !== user.email) {
    change.email = patch.email
    changed.push('email')
    // Another address is unverified until its owner follows a link (unless the admin says it is).
    if (foldEmail(patch.email) !== foldEmail(user.email) && patch.email_verified === undefined && user.emailVerified) {
      change.emailVerified = false
      changed.push('email_verified')
    }
  }
  set('email_verified', 'emailVerified', patch.email_verified, user.emailVerified)
  set('is_active', 'isActive', patch.is_active, user.isActive)
  set('is_staff', 'isStaff', patch.is_staff, user.isStaff)
  set('is_superuser', 'isSuperuser', patch.is_superuser, user.isSuperuser)
  return { change, changed }
}

export default fp(
  async (fastify) => {
    const { users, tokenStore: store, mfa, accounts, audit, notify } = fastify
    const { requireMfa } = fastify.config.admin

    /** A superuser's account is only for superusers to change: staff cannot take it over (reset its password or second factor). */
    function checkMayChange (admin: Admin, target: User, client: Client) {
      if (target.isSuperuser && !admin.isSuperuser) {
        audit(client, { event: 'admin_denied', outcome: 'not_superuser', userId: target.id, actorId: admin.id, sid: admin.sid })
        throw denied()
      }
    }

    /** The target of a change: null when there is none; 403 when the admin may not change it. */
    async function target (admin: Admin, id: string, client: Client): Promise<User | null> {
      const user = await users.findById(id)
      if (user) checkMayChange(admin, user, client)
      return user
    }

    /** Revokes every session of the user around a change that must end them (before: a failure leaves them ended; after: one a racing login started). */
    async function revokingAround<T> (userId: string, change: () => Promise<T>): Promise<T> {
      await store.revokeUserSessions(userId)
      const result = await change()
      await store.revokeUserSessions(userId)
      return result
    }

    const door: AdminDoor = {
      async authorize (caller, client) {
        const user = await users.findById(caller.userId)
        if (!user || !user.isActive || !user.isStaff) {
          audit(client, { event: 'admin_denied', outcome: 'not_staff', userId: caller.userId, sid: caller.sid })
          throw denied()
        }
        if (requireMfa && !caller.signIn.amr.includes('mfa')) {
          audit(client, { event: 'admin_denied', outcome: 'mfa_required', userId: caller.userId, sid: caller.sid })
          throw new ApiError(403, { detail: MFA_REQUIRED })
        }
        return { id: user.id, isSuperuser: user.isSuperuser, sid: caller.sid }
      },

      async listUsers (query) {
        const { count, users: rows } = await users.list(query)
        return { count, results: rows.map(listedView) }
      },

      async getUser (id) {
        const user = await users.findListed(id)
        return user ? listedView(user) : null
      },

      async updateUser (admin, id, patch, client) {
        const user = await target(admin, id, client)
        if (!user) return null
        // Who is staff, and who is a superuser, only a superuser decides.
        if ((patch.is_staff !== undefined || patch.is_superuser !== undefined) && !admin.isSuperuser) {
          audit(client, { event: 'admin_denied', outcome: 'not_superuser', userId: user.id, actorId: admin.id, sid: admin.sid })
          throw denied()
        }
        const { change, changed } = changeOf(patch, user)
        if (changed.length === 0) return door.getUser(id)
        const write = () =>
          users.adminUpdate(user.id, change).catch((err: unknown) => {
            throw err instanceof UniqueViolationError ? fieldErrors({ email: [EMAIL_TAKEN] }) : err
          })
        // Deactivation ends every session at once (access tokens already issued included: the
        // liveness check refuses them), around the write so that a racing login keeps none.
        const updated = change.isActive === false ? await revokingAround(user.id, write) : await write()
        if (!updated) return null
        audit(client, { event: 'admin_user_changed', outcome: 'success', userId: user.id, actorId: admin.id, sid: admin.sid, changes: changed.join(',') })
        if (change.isActive === false) notify.send(user, 'account_deactivated')
        return door.getUser(id)
      },

      async deleteUser (admin, id, client) {
        const user = await target(admin, id, client)
        if (!user) return false
        const deleted = await revokingAround(user.id, () => users.delete(user.id))
        if (deleted) {
          notify.forget(user.id)
          audit(client, { event: 'admin_user_deleted', outcome: 'success', userId: user.id, actorId: admin.id, sid: admin.sid })
        }
        return deleted
      },

      async sessions (id) {
        const user = await users.findById(id)
        if (!user) return null
        // The admin's own session is not among them: nothing is `current`.
        return accounts.sessions({ userId: user.id, sid: '', signIn: { amr: [], auth_time: 0 } })
      },

      async revokeSession (admin, id, sid, client) {
        const user = await target(admin, id, client)
        if (!user) return false
        const revoked = await store.revokeSession({ userId: user.id, sid })
        if (revoked) audit(client, { event: 'admin_session_revoked', outcome: 'success', userId: user.id, actorId: admin.id, sid })
        return revoked
      },

      async logoutAll (admin, id, client) {
        const user = await target(admin, id, client)
        if (!user) return null
        const sessions = await store.revokeUserSessions(user.id)
        audit(client, { event: 'admin_logout_all', outcome: 'success', userId: user.id, actorId: admin.id, sid: admin.sid, sessions })
        return sessions
      },

      async sendPasswordReset (admin, id, client) {
        const user = await target(admin, id, client)
        if (!user) return false
        accounts.mailPasswordReset(user)
        audit(client, { event: 'admin_password_reset', outcome: 'sent', userId: user.id, actorId: admin.id, sid: admin.sid })
        return true
      },

      async resetMfa (admin, id, client) {
        const user = await target(admin, id, client)
        if (!user) return false
        // A lost phone: the factor goes, and so does every session (one may be the thief's).
        await revokingAround(user.id, () => mfa.disableTotp(user.id))
        audit(client, { event: 'admin_mfa_reset', outcome: 'success', userId: user.id, actorId: admin.id, sid: admin.sid })
        notify.send(user, 'mfa_reset')
        return true
      }
    }
    fastify.decorate('admin', door)
  },
  { name: 'admin', dependencies: ['config', 'users', 'token-store', 'mfa', 'accounts', 'audit', 'notify'] }
)
