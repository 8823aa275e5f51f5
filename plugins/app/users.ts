// The user repository: the only code that touches the users table. Uniqueness ignoring case
// is the database's job (unique indexes on username_lower / email_lower, kept here), so two
// racing registrations cannot both win; the pre-check in `taken` only gives nicer errors.
import fp from 'fastify-plugin'
import { Prisma, type PrismaClient, type UserRow } from '../external/prisma/index.js'
import { isUuid } from './ids.js'
import { foldUsername, normalizeUsername } from './usernames.js'
import { databaseOutage } from '../external/prisma/database-outage.js'
import { adminQueries, type AdminQueries } from './users-admin.js'

export type { AdminChange, ListedUser, UserOrdering, UserQuery } from './users-admin.js'

export interface User {
  id: string
  username: string
  email: string
  passwordHash: string
  firstName: string
  lastName: string
  isActive: boolean
  emailVerified: boolean
  dateJoined: Date
  lastLogin: Date | null
  /** The user's integer number (assigned at creation, never reused): API_PROFILE=envelope's `pk`. */
  pk: number
  /** Django's flags: staff may use the admin API; a superuser also grants these flags. */
  isStaff: boolean
  isSuperuser: boolean
}

export type UniqueField = 'username' | 'email'

/** A unique constraint fired: the username or email (ignoring case) is already in use. */
export class UniqueViolationError extends Error {
  override name = 'UniqueViolationError'
  constructor (public readonly fields: UniqueField[]) {
    super(`already taken: ${fields.join(', ')}`)
  }
}

export interface NewUser {
  /** Given by the caller (accounts starts the session first); default: made by the database. */
  id?: string
  username: string
  email: string
  passwordHash: string
  firstName?: string
  lastName?: string
  /** createsuperuser: a staff superuser whose address the operator typed (verified). */
  superuser?: boolean
}

export interface UserRepository extends AdminQueries {
  /** Inserts the user (one statement). Throws UniqueViolationError when the database's unique constraint fires. */
  create(input: NewUser): Promise<User>
  /**
   * The one account a name typed at login designates; one query. A name with an @ is an e-mail
   * address: the account with that e-mail, else (a username taken before usernames with an @ had
   * to be their owner's e-mail) the account with that username. A name without an @ is a username.
   */
  findByLogin(login: string): Promise<User | null>
  findById(id: string): Promise<User | null>
  /** Whether the username / email (ignoring case) are in use; one query. */
  taken(username: string, email: string): Promise<{ username: boolean; email: boolean }>
  /** By email ignoring case (password reset, a new verification e-mail). */
  findByEmail(email: string): Promise<User | null>
  /**
   * The end of a login: last_login moves (and the hash is replaced by `newPasswordHash`, a re-hash)
   * only if the user is still active with the hash the login verified (compare-and-set). False
   * when a password change, reset, deactivation or deletion came first: the login must not stand.
   */
  recordLogin(id: string, at: Date, verifiedHash: string, newPasswordHash?: string): Promise<boolean>
  /** Names only (PATCH /me); the user as it is now, or null when it is gone. */
  updateProfile(id: string, fields: { firstName?: string; lastName?: string }): Promise<User | null>
  /**
   * Replaces the password hash if it is still `expected` (compare-and-set): false when another
   * change came first, so a reset link or a change is used at most once under any concurrency.
   */
  replacePassword(id: string, expected: string, passwordHash: string): Promise<boolean>
  /**
   * An e-mail change: the new address, verified, if the user's address is still `expected`
   * (ignoring case; compare-and-set, so a change link works once); null otherwise.
   * UniqueViolationError when another account has the new address (it won a race).
   */
  changeEmail(id: string, expected: string, email: string): Promise<User | null>
  /** Marks the email verified if it is still `email` (ignoring case) and not verified yet: false otherwise. */
  verifyEmail(id: string, email: string): Promise<boolean>
  /** Deletes the user (their username and email are free again); false when there was none. */
  delete(id: string): Promise<boolean>
  deactivate(id: string): Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance {
    users: UserRepository
  }
}

/** Django's normalize_email: the domain part is lower-cased, the local part kept as entered. */
export function normalizeEmail (email: string): string {
  const trimmed = email.trim()
  const at = trimmed.lastIndexOf('@')
  if (at < 0) return email
  return trimmed.slice(0, at) + '@' + trimmed.slice(at + 1).toLowerCase()
}

export const foldEmail = (email: string) => normalizeEmail(email).toLowerCase()

export function toUser (row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    passwordHash: row.passwordHash,
    firstName: row.firstName,
    lastName: row.lastName,
    isActive: row.isActive,
    emailVerified: row.emailVerified,
    dateJoined: row.dateJoined,
    lastLogin: row.lastLogin,
    pk: row.pk,
    isStaff: row.isStaff,
    isSuperuser: row.isSuperuser
  }
}

/**
 * Which of our unique fields a P2002 error names. Only err.meta is read (the message quotes the
 * calling source code): the driver adapter's constraint columns and message, or `target`.
 */
function uniqueFields (err: Prisma.PrismaClientKnownRequestError): UniqueField[] {
  const meta = (err.meta ?? {}) as {
    target?: unknown
    driverAdapterError?: { cause?: { constraint?: { fields?: unknown; index?: unknown }; originalMessage?: unknown } }
  }
  const cause = meta.driverAdapterError?.cause
  const text = JSON.stringify([meta.target, cause?.constraint, cause?.originalMessage])
  const fields: UniqueField[] = []
  if (/username/i.test(text)) fields.push('username')
  if (/email/i.test(text)) fields.push('email')
  return fields
}

export function createUserRepository (prisma: PrismaClient): UserRepository {
  return {
    async create (input) {
      const email = normalizeEmail(input.email)
      try {
        const row = await prisma.user.create({
          data: {
            ...(input.id ? { id: input.id } : {}),
            username: normalizeUsername(input.username),
            usernameLower: foldUsername(input.username),
            email,
            emailLower: foldEmail(email),
            passwordHash: input.passwordHash,
            firstName: input.firstName ?? '',
            lastName: input.lastName ?? '',
            ...(input.superuser ? { isStaff: true, isSuperuser: true, emailVerified: true } : {})
          }
        })
        return toUser(row)
      } catch (err) {
        if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') {
          const fields = uniqueFields(err)
          throw new UniqueViolationError(fields.length > 0 ? fields : ['username'])
        }
        throw err
      }
    },

    async findByLogin (login) {
      const byUsername = { usernameLower: foldUsername(login) }
      if (!login.includes('@')) {
        const row = await prisma.user.findUnique({ where: byUsername })
        return row ? toUser(row) : null
      }
      const byEmail = { emailLower: foldEmail(login) }
      const rows = await prisma.user.findMany({ where: { OR: [byEmail, byUsername] }, take: 2 })
      // The e-mail's owner wins: no username can make another account's e-mail sign-in fail.
      const row = rows.find((r) => r.emailLower === byEmail.emailLower) ?? rows[0]
      return row ? toUser(row) : null
    },

    async findById (id) {
      if (!isUuid(id)) return null
      const row = await prisma.user.findUnique({ where: { id } })
      return row ? toUser(row) : null
    },

    async taken (username, email) {
      const usernameLower = foldUsername(username)
      const emailLower = foldEmail(email)
      const rows = await prisma.user.findMany({
        where: { OR: [{ usernameLower }, { emailLower }] },
        select: { usernameLower: true, emailLower: true },
        take: 2
      })
      return {
        username: rows.some((r) => r.usernameLower === usernameLower),
        email: rows.some((r) => r.emailLower === emailLower)
      }
    },

    async findByEmail (email) {
      const row = await prisma.user.findFirst({ where: { emailLower: foldEmail(email) } })
      return row ? toUser(row) : null
    },

    async recordLogin (id, at, verifiedHash, newPasswordHash) {
      if (!isUuid(id)) return false
      const { count } = await prisma.user.updateMany({
        where: { id, passwordHash: verifiedHash, isActive: true },
        data: newPasswordHash === undefined ? { lastLogin: at } : { lastLogin: at, passwordHash: newPasswordHash }
      })
      return count === 1
    },

    async updateProfile (id, { firstName, lastName }) {
      if (!isUuid(id)) return null
      const rows = await prisma.user.updateManyAndReturn({ where: { id }, data: { firstName, lastName } })
      return rows[0] ? toUser(rows[0]) : null
    },

    async replacePassword (id, expected, passwordHash) {
      if (!isUuid(id)) return false
      const { count } = await prisma.user.updateMany({ where: { id, passwordHash: expected }, data: { passwordHash } })
      return count === 1
    },

    async changeEmail (id, expected, email) {
      if (!isUuid(id)) return null
      const address = normalizeEmail(email)
      try {
        const rows = await prisma.user.updateManyAndReturn({
          where: { id, emailLower: foldEmail(expected) },
          data: { email: address, emailLower: foldEmail(address), emailVerified: true }
        })
        return rows[0] ? toUser(rows[0]) : null
      } catch (err) {
        if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') throw new UniqueViolationError(['email'])
        throw err
      }
    },

    async verifyEmail (id, email) {
      if (!isUuid(id)) return false
      const { count } = await prisma.user.updateMany({
        where: { id, emailLower: foldEmail(email), emailVerified: false },
        data: { emailVerified: true }
      })
      return count === 1
    },

    async delete (id) {
      if (!isUuid(id)) return false
      const { count } = await prisma.user.deleteMany({ where: { id } })
      return count === 1
    },

    async deactivate (id) {
      if (!isUuid(id)) return
      await prisma.user.updateMany({ where: { id }, data: { isActive: false } })
    },

    ...adminQueries(prisma)
  }
}

export default fp(
  async (fastify) => {
    fastify.decorate('users', fastify.outages.guard(createUserRepository(fastify.prisma), 'database', databaseOutage))
  },
  { name: 'users', dependencies: ['outages', 'prisma'] }
)
