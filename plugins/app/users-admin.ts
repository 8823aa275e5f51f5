// The user repository's queries for the admin API (plugins/app/admin): the list with its search,
// filters and ordering, one user with whether TOTP is on, and an administrator's change. Part of
// the repository (users.ts spreads it in): still the only code that touches the users table.
import { Prisma, type PrismaClient } from '../external/prisma/index.js'
import { isUuid } from './ids.js'
import { foldEmail, normalizeEmail, toUser, UniqueViolationError, type User } from './users.js'

/** The fields an administrator may change (PATCH /api/admin/users/{id}/). */
export interface AdminChange {
  firstName?: string
  lastName?: string
  email?: string
  emailVerified?: boolean
  isActive?: boolean
  isStaff?: boolean
  isSuperuser?: boolean
}

/** The admin list's orderings (a leading - in the query reverses). */
export type UserOrdering = 'date_joined' | 'last_login' | 'username'

export interface UserQuery {
  /** Each term must appear, in any case, in the username, the e-mail or a name (DRF's SearchFilter). */
  terms: string[]
  isActive?: boolean
  isStaff?: boolean
  ordering: UserOrdering
  descending: boolean
  offset: number
  limit: number
}

/** A user as the admin API shows it: with whether TOTP is on. */
export interface ListedUser extends User {
  mfaEnabled: boolean
}

/** LIKE's own characters in a search term match themselves. */
const likeLiteral = (term: string) => term.replace(/[\\%_]/g, (c) => '\\' + c)

const ORDER_COLUMNS = { date_joined: 'dateJoined', last_login: 'lastLogin', username: 'username' } as const

export interface AdminQueries {
  /** The admin list: one page of users matching the query, and how many match in all. */
  list(query: UserQuery): Promise<{ count: number; users: ListedUser[] }>
  /** One user with whether TOTP is on; null when there is none. */
  findListed(id: string): Promise<ListedUser | null>
  /**
   * An administrator's change, in one statement; the user as it is now, or null when it is gone.
   * UniqueViolationError when the new e-mail is another account's.
   */
  adminUpdate(id: string, change: AdminChange): Promise<User | null>
}

export function adminQueries (prisma: PrismaClient): AdminQueries {
  return {
    async list ({ terms, isActive, isStaff, ordering, descending, offset, limit }) {
      // Every term somewhere (AND), in any of the four fields (OR): ILIKE '%term%', which the
      // trigram indexes serve (for terms of three characters or more).
      const where: Prisma.UserWhereInput = {
        AND: terms.map((term) => {
          const contains = { contains: likeLiteral(term), mode: 'insensitive' as const }
          return { OR: [{ username: contains }, { email: contains }, { firstName: contains }, { lastName: contains }] }
        }),
        ...(isActive !== undefined ? { isActive } : {}),
        ...(isStaff !== undefined ? { isStaff } : {})
      }
      const direction = descending ? 'desc' : 'asc'
      // The id breaks ties (two users who joined in the same millisecond), so pages never overlap.
      const orderBy = [{ [ORDER_COLUMNS[ordering]]: direction }, { id: direction }] as Prisma.UserOrderByWithRelationInput[]
      const [count, rows] = await prisma.$transaction([
        prisma.user.count({ where }),
        prisma.user.findMany({ where, orderBy, skip: offset, take: limit, include: { totp: { select: { confirmed: true } } } })
      ])
      return { count, users: rows.map((row) => ({ ...toUser(row), mfaEnabled: row.totp?.confirmed === true })) }
    },

    async findListed (id) {
      if (!isUuid(id)) return null
      const row = await prisma.user.findUnique({ where: { id }, include: { totp: { select: { confirmed: true } } } })
      return row ? { ...toUser(row), mfaEnabled: row.totp?.confirmed === true } : null
    },

    async adminUpdate (id, change) {
      if (!isUuid(id)) return null
      const data: Prisma.UserUpdateManyMutationInput = {}
      if (change.firstName !== undefined) data.firstName = change.firstName
      if (change.lastName !== undefined) data.lastName = change.lastName
      if (change.email !== undefined) {
        data.email = normalizeEmail(change.email)
        data.emailLower = foldEmail(change.email)
      }
      if (change.emailVerified !== undefined) data.emailVerified = change.emailVerified
      if (change.isActive !== undefined) data.isActive = change.isActive
      if (change.isStaff !== undefined) data.isStaff = change.isStaff
      if (change.isSuperuser !== undefined) data.isSuperuser = change.isSuperuser
      try {
        const rows = await prisma.user.updateManyAndReturn({ where: { id }, data })
        return rows[0] ? toUser(rows[0]) : null
      } catch (err) {
        if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') throw new UniqueViolationError(['email'])
        throw err
      }
    }
  }
}
