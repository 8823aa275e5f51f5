// Databases for tests. PostgreSQL: a fresh database per call, cloned from a template that is
// migrated once per schema version (CREATE DATABASE ... TEMPLATE is a file copy, much faster
// than migrating), safe with several tap processes at once. Embedded: a temp DATA_DIR, by
// default holding a copy of a PGlite directory migrated once per process (initdb costs ~2 s).
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { PrismaPg } from '@prisma/adapter-pg'
import type { SqlDriverAdapter } from '@prisma/driver-adapter-utils'
import type { PGlite } from '@electric-sql/pglite'
import { PrismaClient } from '../../plugins/external/prisma/index.js'
import { dataMigrations } from '../../plugins/app/data-migrations.js'
import { applyMigrations, postgresAdapterFactory, readMigrations } from '../../plugins/external/prisma/migrations.js'
import { openEmbeddedDatabase, pgliteAdapterFactory, pgliteDir } from '../../plugins/external/prisma/pglite.js'

const execFileAsync = promisify(execFile)

export const TEST_PG_URL = process.env.TEST_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres'

/** A URL for another database on the same server. */
export function databaseUrl (name: string, base = TEST_PG_URL): string {
  const url = new URL(base)
  url.pathname = '/' + name
  return url.toString()
}

/** A short hash of the migrations folder: a new migration means a new template. */
async function schemaVersion (): Promise<string> {
  const list = await readMigrations()
  const hash = createHash('sha256')
  for (const m of list.migrationDirectories) {
    hash.update(m.path + '\0' + (m.migrationFile.content.tag === 'ok' ? m.migrationFile.content.value : '') + '\0')
  }
  // Data migrations are part of what a template holds.
  hash.update(dataMigrations.map((m) => m.name).join('\0'))
  return hash.digest('hex').slice(0, 12)
}

const TEMPLATE_PREFIX = 'auth_test_tpl_'
// Any constant shared by every test process: serialises template creation and cloning.
const LOCK_KEY = 72_716_001

const sql = (adapter: SqlDriverAdapter, text: string, args: unknown[] = []) =>
  adapter.queryRaw({ sql: text, args, argTypes: args.map(() => ({ scalarType: 'string', arity: 'scalar' }) as const) })
const ident = (name: string) => '"' + name.replace(/"/g, '""') + '"'

async function withAdmin<T> (fn: (admin: SqlDriverAdapter) => Promise<T>): Promise<T> {
  // One connection, so the session-level advisory lock and the statements share it.
  const admin = await new PrismaPg({ connectionString: TEST_PG_URL, max: 1 }).connect()
  try {
    return await fn(admin)
  } finally {
    await admin.dispose()
  }
}

async function databaseExists (admin: SqlDriverAdapter, name: string): Promise<boolean> {
  return (await sql(admin, 'SELECT 1 FROM pg_database WHERE datname = $1', [name])).rows.length > 0
}

/** Creates (once per schema version, under the lock) the migrated template database. */
async function ensureTemplate (admin: SqlDriverAdapter, template: string): Promise<void> {
  if (await databaseExists(admin, template)) return
  // Built under another name and renamed when complete, so a crash never leaves a half one.
  const building = template + '_building'
  await admin.executeScript(`DROP DATABASE IF EXISTS ${ident(building)} WITH (FORCE)`)
  await admin.executeScript(`CREATE DATABASE ${ident(building)}`)
  await applyMigrations(postgresAdapterFactory({ connectionString: databaseUrl(building), max: 1 }), dataMigrations)
  for (let attempt = 0; ; attempt++) {
    try {
      // The migration's connection may still be closing on the server side.
      await admin.executeScript(`ALTER DATABASE ${ident(building)} RENAME TO ${ident(template)}`)
      break
    } catch (err) {
      if (attempt >= 50) throw err
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  // Templates of older schema versions are no longer needed.
  const old = await sql(admin, `SELECT datname FROM pg_database WHERE datname LIKE '${TEMPLATE_PREFIX}%' AND datname <> $1 AND datname NOT LIKE '%\\_building'`, [template])
  for (const [name] of old.rows as string[][]) {
    await admin.executeScript(`DROP DATABASE IF EXISTS ${ident(name!)} WITH (FORCE)`).catch(() => {})
  }
}

export interface TestDatabase {
  name: string
  url: string
  /** Drops the database (closing any connection left to it). */
  drop(): Promise<void>
}

/** A fresh, migrated PostgreSQL database of the caller's own: auth_test_<pid>_<random>. */
export async function createTestDatabase (): Promise<TestDatabase> {
  const template = TEMPLATE_PREFIX + (await schemaVersion())
  const name = `auth_test_${process.pid}_${randomBytes(4).toString('hex')}`
  await withAdmin(async (admin) => {
    await admin.executeRaw({ sql: `SELECT pg_advisory_lock(${LOCK_KEY})`, args: [], argTypes: [] })
    try {
      await ensureTemplate(admin, template)
      await admin.executeScript(`CREATE DATABASE ${ident(name)} TEMPLATE ${ident(template)}`)
    } finally {
      await admin.executeRaw({ sql: `SELECT pg_advisory_unlock(${LOCK_KEY})`, args: [], argTypes: [] })
    }
  })
  return {
    name,
    url: databaseUrl(name),
    drop: () => withAdmin((admin) => admin.executeScript(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`))
  }
}

export interface TestDataDir {
  dir: string
  /** Removes the directory (close the app first). */
  cleanup(): Promise<void>
}

// One migrated PGlite directory per process, copied into each test's data dir.
let pgliteTemplate: Promise<string> | undefined

function migratedPgliteTemplate (): Promise<string> {
  pgliteTemplate ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'auth-test-pglite-template-'))
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
    const embedded = await openEmbeddedDatabase(dir, dataMigrations)
    await embedded.close()
    return pgliteDir(dir)
  })()
  return pgliteTemplate
}

/**
 * A temp DATA_DIR for the embedded mode. By default it already holds a migrated database (a
 * copy of a per-process template); { empty: true } gives an empty dir, for tests of the first start itself.
 */
export async function createTestDataDir (options: { empty?: boolean } = {}): Promise<TestDataDir> {
  const dir = await mkdtemp(join(tmpdir(), 'auth-test-data-'))
  if (!options.empty) {
    const template = await migratedPgliteTemplate()
    // cp(1) copies the ~1000 small files about ten times faster than fs.cp.
    await execFileAsync('cp', ['-R', template, pgliteDir(dir)]).catch(() => cp(template, pgliteDir(dir), { recursive: true }))
  }
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) }
}

export type DatabaseKind = 'postgres' | 'pglite'

export interface TestPrisma {
  prisma: PrismaClient
  /** PostgreSQL: the database's URL. */
  url?: string
  /** PGlite: the database itself. */
  pglite?: PGlite
  /** Another client on the same database (a second instance); PostgreSQL only. */
  another(): PrismaClient
  /** Disconnects every client and removes the database. */
  cleanup(): Promise<void>
}

/** A PrismaClient on a fresh, migrated database of the caller's own: PostgreSQL or PGlite. */
export async function createTestPrisma (kind: DatabaseKind): Promise<TestPrisma> {
  const clients: PrismaClient[] = []
  if (kind === 'postgres') {
    const db = await createTestDatabase()
    const make = () => {
      const client = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) })
      clients.push(client)
      return client
    }
    return {
      prisma: make(),
      url: db.url,
      another: make,
      async cleanup () {
        for (const c of clients) await c.$disconnect()
        await db.drop()
      }
    }
  }
  const data = await createTestDataDir()
  const embedded = await openEmbeddedDatabase(data.dir, dataMigrations)
  const prisma = new PrismaClient({ adapter: pgliteAdapterFactory(embedded.db) })
  return {
    prisma,
    pglite: embedded.db,
    another: () => {
      throw new Error('PGlite is single-process: one client only')
    },
    async cleanup () {
      await prisma.$disconnect()
      await embedded.close()
      await data.cleanup()
    }
  }
}
