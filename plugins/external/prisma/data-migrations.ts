// Migrations of data that SQL cannot compute the way the service does (Unicode folding of
// usernames: PostgreSQL's lower() depends on the database's locale, and version 15 has no
// casefold()). They run after the SQL migrations, by the same runner (`npm run db:migrate`, and
// the embedded database when it opens), once each, recorded in _auth_data_migrations; each one's
// writes and its record are one script, so one transaction.
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils'
import { foldUsername } from '../../app/usernames.js'

interface DataMigration {
  name: string
  /** Reads what it needs and returns the SQL that changes it (run with its record, atomically); throws to refuse. */
  plan(db: SqlDriverAdapter): Promise<string>
}

const TABLE = '_auth_data_migrations'
/** A SQL string literal (standard_conforming_strings: only the quote needs doubling). */
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`
const rows = async (db: SqlDriverAdapter, sql: string) => (await db.queryRaw({ sql, args: [], argTypes: [] })).rows as unknown[][]

export class DataMigrationRefused extends Error {
  override name = 'DataMigrationRefused'
}

const MIGRATIONS: DataMigration[] = [
  {
    // Usernames are unique by their NFKC + case-folded form (plugins/app/usernames.ts), no longer
    // by lower(): re-key every user, and refuse (naming them) when two would share a key.
    name: '20261121120000_fold_usernames',
    async plan(db) {
      const users = (await rows(db, 'SELECT id::text, username, username_lower FROM users ORDER BY id')) as Array<[string, string, string]>
      const byKey = new Map<string, Array<[string, string, string]>>()
      for (const user of users) {
        const key = foldUsername(user[1])
        byKey.set(key, [...(byKey.get(key) ?? []), user])
      }
      const name = ([id, username]: [string, string, string]) => `${JSON.stringify(username)} (${id})`
      const collisions = [...byKey.values()].filter((group) => group.length > 1)
      if (collisions.length > 0) {
        throw new DataMigrationRefused(
          'usernames would collide once compared after NFKC normalisation and case folding; rename all but one of each group, then migrate again: ' +
            collisions.map((group) => group.map(name).join(' = ')).join('; ')
        )
      }
      const tooLong = [...byKey.keys()].filter((key) => key.length > 150)
      if (tooLong.length > 0) {
        throw new DataMigrationRefused(`these usernames fold to more than 150 characters; rename them, then migrate again: ${tooLong.map((k) => name(byKey.get(k)![0]!)).join(', ')}`)
      }
      const changed = users.filter(([, username, key]) => foldUsername(username) !== key)
      if (changed.length === 0) return ''
      const ids = changed.map(([id]) => `${literal(id)}::uuid`).join(', ')
      const values = changed.map(([id, username]) => `(${literal(id)}::uuid, ${literal(foldUsername(username))})`).join(', ')
      // Two steps: no new key may meet another row's old one half-way through.
      return (
        `UPDATE users SET username_lower = '~' || id::text WHERE id IN (${ids});\n` +
        `UPDATE users AS u SET username_lower = v.key FROM (VALUES ${values}) AS v(id, key) WHERE u.id = v.id;\n`
      )
    }
  }
]

export const dataMigrationNames = MIGRATIONS.map((m) => m.name)

/** Names of data migrations not recorded as applied; `query` runs one statement (as pendingMigrations). */
export async function pendingDataMigrations(query: (sql: string) => Promise<Array<Record<string, unknown>>>): Promise<string[]> {
  const [table] = await query(`SELECT to_regclass('${TABLE}')::text AS t`)
  if (!table?.t) return dataMigrationNames
  const done = new Set((await query(`SELECT name FROM ${TABLE}`)).map((r) => r.name))
  return dataMigrationNames.filter((n) => !done.has(n))
}

/** Applies every data migration not yet recorded; returns the names applied. */
export async function applyDataMigrations(factory: SqlMigrationAwareDriverAdapterFactory): Promise<string[]> {
  const db = await factory.connect()
  try {
    await db.executeScript(`CREATE TABLE IF NOT EXISTS ${TABLE} (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`)
    const done = new Set((await rows(db, `SELECT name FROM ${TABLE}`)).map((r) => r[0]))
    const applied: string[] = []
    for (const migration of MIGRATIONS) {
      if (done.has(migration.name)) continue
      const sql = await migration.plan(db)
      await db.executeScript(`BEGIN;\n${sql}INSERT INTO ${TABLE} (name) VALUES (${literal(migration.name)});\nCOMMIT;`)
      applied.push(migration.name)
    }
    return applied
  } finally {
    await db.dispose()
  }
}
