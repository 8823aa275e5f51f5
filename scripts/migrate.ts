// Database migrations without Prisma's native engine (it cannot be installed here): Prisma's
// schema engine runs as WebAssembly over a driver adapter (plugins/external/prisma/migrations.ts).
//
//   npm run db:migrate                       apply prisma/migrations to DATABASE_URL (like
//                                            `prisma migrate deploy`), creating the database
//                                            first when the server has none of that name (as
//                                            `prisma migrate dev` does); with DATABASE_URL unset,
//                                            to the embedded PGlite in DATA_DIR (default ./data),
//                                            which the app also does by itself on start
//   npx tsx scripts/migrate.ts --create <name>
//                                            after editing prisma/schema.prisma: write
//                                            prisma/migrations/<timestamp>_<name>/migration.sql
//                                            (the diff from the migrations folder to the schema,
//                                            replayed on an in-memory PGlite: no server needed)
//   npx tsx scripts/migrate.ts --check       exit 1 when schema.prisma and the migrations differ
//
// Only DATABASE_URL and DATA_DIR are read (from the environment, then ./.env as the service
// does): migrating needs none of the app's other settings (a deploy step should not need the JWT keys).
import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import type { PGlite } from '@electric-sql/pglite'
import type { SqlDriverAdapter } from '@prisma/driver-adapter-utils'
import { loadEnvFile } from '../plugins/app/config/index.js'
import { dataMigrations } from '../plugins/app/data-migrations.js'
import { applyMigrations, createMigration, diffMigrationsToSchema, postgresAdapterFactory, prismaPaths } from '../plugins/external/prisma/migrations.js'
import { createPglite, openEmbeddedDatabase, pgliteAdapterFactory, pgliteDir } from '../plugins/external/prisma/pglite.js'

const { values } = parseArgs({
  options: { create: { type: 'string' }, check: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } }
})

async function withScratchDatabase<T> (fn: (db: PGlite) => Promise<T>): Promise<T> {
  const db = await createPglite('memory://')
  try {
    return await fn(db)
  } finally {
    await db.close()
  }
}

async function withPostgres<T> (url: string, fn: (db: SqlDriverAdapter) => Promise<T>): Promise<T> {
  // The script-whole adapter: a database name may hold a ";", which PrismaPg's own would split on.
  const db = await postgresAdapterFactory({ connectionString: url, connectionTimeoutMillis: 10_000, max: 1 }).connect()
  try {
    return await fn(db)
  } finally {
    await db.dispose()
  }
}

/** The driver adapter's name for a PostgreSQL error (DriverAdapterError's cause). */
const errorKind = (err: unknown) => (err as { cause?: { kind?: unknown } }).cause?.kind

/**
 * Creates the database of `url` when the server has none of that name, as `prisma migrate dev`
 * does: the name, or null when it was there. The target is tried first, so an existing database
 * needs no access to the server's `postgres` database, from which a missing one is created.
 */
async function createDatabaseIfMissing (url: string): Promise<string | null> {
  try {
    await withPostgres(url, (db) => db.queryRaw({ sql: 'SELECT 1', args: [], argTypes: [] }))
    return null
  } catch (err) {
    if (errorKind(err) !== 'DatabaseDoesNotExist') throw err
  }
  const server = new URL(url)
  // Decoded as node-postgres decodes it, so the name created is the one connected to next.
  const name = decodeURI(server.pathname.slice(1))
  server.pathname = '/postgres'
  try {
    await withPostgres(server.toString(), (db) => db.executeScript(`CREATE DATABASE "${name.replaceAll('"', '""')}"`))
  } catch (err) {
    // Another migration (a second instance starting) created it in between: as good.
    if (errorKind(err) === 'DatabaseAlreadyExists') return null
    throw err
  }
  return name
}

async function main (): Promise<number> {
  if (values.help) {
    console.log('usage: tsx scripts/migrate.ts [--create <name> | --check]')
    return 0
  }
  if (values.create !== undefined) {
    const folder = await withScratchDatabase((db) => createMigration(pgliteAdapterFactory(db), values.create!))
    console.log(folder ? `wrote ${prismaPaths().migrations}/${folder}/migration.sql` : 'schema.prisma matches the migrations: nothing to do')
    return 0
  }
  if (values.check) {
    const sql = await withScratchDatabase((db) => diffMigrationsToSchema(pgliteAdapterFactory(db)))
    if (sql === '') {
      console.log('schema.prisma and prisma/migrations agree')
      return 0
    }
    console.error('schema.prisma differs from prisma/migrations; run `npx tsx scripts/migrate.ts --create <name>`:\n' + sql)
    return 1
  }

  const envFile = loadEnvFile()
  if (envFile) console.log(`settings: environment, then ${envFile}`)
  const url = process.env.DATABASE_URL
  if (url) {
    const created = await createDatabaseIfMissing(url)
    if (created !== null) console.log(`created database ${created} (it did not exist)`)
    const applied = await applyMigrations(postgresAdapterFactory({ connectionString: url, connectionTimeoutMillis: 10_000 }), dataMigrations)
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date')
    return 0
  }
  const dataDir = resolve(process.env.DATA_DIR || './data')
  const embedded = await openEmbeddedDatabase(dataDir, dataMigrations)
  await embedded.close()
  console.log(`${pgliteDir(dataDir)}: ${embedded.applied.length ? `applied: ${embedded.applied.join(', ')}` : 'up to date'}`)
  return 0
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`migration failed: ${err.message}`)
    process.exit(1)
  }
)
