// The runner of data migrations: changes of data that SQL cannot compute the way the service does
// (the app's, in plugins/app/data-migrations.ts, handed in by whoever migrates). They run after
// the SQL migrations, by the same runner (`npm run db:migrate`, and the embedded database when it
// opens), once each, recorded in _auth_data_migrations; each one's writes and its record are one
// script, so one transaction.
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils'

export interface DataMigration {
  name: string
  /** Reads what it needs and returns the SQL that changes it (run with its record, atomically); throws to refuse. */
  plan(db: SqlDriverAdapter): Promise<string>
}

const TABLE = '_auth_data_migrations'
/** A SQL string literal (standard_conforming_strings: only the quote needs doubling). */
export const sqlLiteral = (s: string) => `'${s.replace(/'/g, "''")}'`
/** The rows of a query, as arrays of values in column order. */
export const queryRows = async (db: SqlDriverAdapter, sql: string) => (await db.queryRaw({ sql, args: [], argTypes: [] })).rows as unknown[][]

export class DataMigrationRefused extends Error {
  override name = 'DataMigrationRefused'
}

/** Names of `migrations` not recorded as applied; `query` runs one statement (as pendingMigrations). */
export async function pendingDataMigrations (
  query: (sql: string) => Promise<Array<Record<string, unknown>>>,
  migrations: DataMigration[]
): Promise<string[]> {
  const names = migrations.map((m) => m.name)
  const [table] = await query(`SELECT to_regclass('${TABLE}')::text AS t`)
  if (!table?.t) return names
  const done = new Set((await query(`SELECT name FROM ${TABLE}`)).map((r) => r.name))
  return names.filter((n) => !done.has(n))
}

/** Applies, in order, every one of `migrations` not yet recorded; returns the names applied. */
export async function applyDataMigrations (factory: SqlMigrationAwareDriverAdapterFactory, migrations: DataMigration[]): Promise<string[]> {
  const db = await factory.connect()
  try {
    await db.executeScript(`CREATE TABLE IF NOT EXISTS ${TABLE} (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`)
    const done = new Set((await queryRows(db, `SELECT name FROM ${TABLE}`)).map((r) => r[0]))
    const applied: string[] = []
    for (const migration of migrations) {
      if (done.has(migration.name)) continue
      const sql = await migration.plan(db)
      await db.executeScript(`BEGIN;\n${sql}INSERT INTO ${TABLE} (name) VALUES (${sqlLiteral(migration.name)});\nCOMMIT;`)
      applied.push(migration.name)
    }
    return applied
  } finally {
    await db.dispose()
  }
}
