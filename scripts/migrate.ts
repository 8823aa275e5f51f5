// Database migrations without Prisma's native engine (it cannot be installed here): Prisma's
// schema engine runs as WebAssembly over a driver adapter (plugins/external/prisma/migrations.ts).
//
//   npm run db:migrate                       apply prisma/migrations to DATABASE_URL (like
//                                            `prisma migrate deploy`); with DATABASE_URL unset,
//                                            to the embedded PGlite in DATA_DIR (default ./data),
//                                            which the app also does by itself on start
//   npx tsx scripts/migrate.ts --create <name>
//                                            after editing prisma/schema.prisma: write
//                                            prisma/migrations/<timestamp>_<name>/migration.sql
//                                            (the diff from the migrations folder to the schema,
//                                            replayed on an in-memory PGlite: no server needed)
//   npx tsx scripts/migrate.ts --check       exit 1 when schema.prisma and the migrations differ
//
// Only DATABASE_URL and DATA_DIR are read: migrating needs none of the app's other settings
// (a production deploy step should not need the JWT keys).
import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { dataMigrations } from '../plugins/app/data-migrations.js'
import { applyMigrations, createMigration, diffMigrationsToSchema, postgresAdapterFactory, prismaPaths } from '../plugins/external/prisma/migrations.js'
import { openEmbeddedDatabase, pgliteAdapterFactory, pgliteDir } from '../plugins/external/prisma/pglite.js'

const { values } = parseArgs({
  options: { create: { type: 'string' }, check: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } }
})

async function withScratchDatabase<T> (fn: (db: PGlite) => Promise<T>): Promise<T> {
  const db = await PGlite.create('memory://')
  try {
    return await fn(db)
  } finally {
    await db.close()
  }
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

  const url = process.env.DATABASE_URL
  if (url) {
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
