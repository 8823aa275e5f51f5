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

const ORDER_COLUMNS = { date_joined: 'date_joined', last_login: 'last_login', username: 'username' } as const

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
      // Every term somewhere (AND), in any case, in the username, the e-mail or a name: LIKE
      // '%term%' on the lower-cased text of the four, the expression the trigram index
      // users_search_trgm_idx is on (its migration). One condition per term on one index: asked
      // as an OR of four ILIKEs, PostgreSQL read the whole table (about 200 ms over 100,000
      // users, bench/admin-search.ts).
      const conditions = terms.map((term) => {
        const p = `%${likeLiteral(term)}%`
        return Prisma.sql`lower(username || ' ' || email || ' ' || first_name || ' ' || last_name) LIKE lower(${p})`
      })
      if (isActive !== undefined) conditions.push(Prisma.sql`is_active = ${isActive}`)
      if (isStaff !== undefined) conditions.push(Prisma.sql`is_staff = ${isStaff}`)
      const where = conditions.length > 0 ? Prisma.sql`WHERE ${Prisma.join(conditions, ' AND ')}` : Prisma.empty
      // The id breaks ties (two users who joined in the same millisecond), so pages never overlap.
      // Both are constants of this file, never the query's text.
      const direction = Prisma.raw(descending ? 'DESC' : 'ASC')
      const column = Prisma.raw(ORDER_COLUMNS[ordering])
      const [[counted], page] = await prisma.$transaction([
        prisma.$queryRaw<[{ count: bigint | number }]>`SELECT count(*) AS count FROM users ${where}`,
        prisma.$queryRaw<Array<{ id: string }>>`SELECT id FROM users ${where} ORDER BY ${column} ${direction}, id ${direction} LIMIT ${limit} OFFSET ${offset}`
      ])
      const ids = page.map((r) => r.id)
      const rows = ids.length === 0 ? [] : await prisma.user.findMany({ where: { id: { in: ids } }, include: { totp: { select: { confirmed: true } } } })
      const byId = new Map(rows.map((row) => [row.id, row]))
      // In the page's order; a user deleted in between is left out.
      const users = ids.flatMap((id) => {
        const row = byId.get(id)
        return row ? [{ ...toUser(row), mfaEnabled: row.totp?.confirmed === true }] : []
      })
      return { count: Number(counted?.count ?? 0), users }
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
