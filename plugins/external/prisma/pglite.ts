// The embedded database: PGlite (PostgreSQL compiled to WebAssembly) in <dataDir>/pglite,
// migrated on open. It is single-connection and single-process: one app instance per data
// dir (a lock file refuses a second process), no horizontal scaling; use DATABASE_URL for that.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { pg_trgm as pgTrgm } from '@electric-sql/pglite/contrib/pg_trgm'
import { PrismaPGlite } from 'pglite-prisma-adapter'
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils'
import { pendingDataMigrations, type DataMigration } from './data-migrations.js'
import { applyMigrations, pendingMigrations, scriptsWhole } from './migrations.js'

/**
 * A PGlite (a directory, or memory://) with the extensions the migrations create: pg_trgm, whose
 * trigram indexes serve the admin list's search. Every PGlite the migrations run on is made here.
 */
export const createPglite = (dataDir: string) => PGlite.create(dataDir, { extensions: { pg_trgm: pgTrgm } })

/** The PGlite directory inside the app's data dir. */
export const pgliteDir = (dataDir: string) => join(dataDir, 'pglite')

/**
 * pglite-prisma-adapter's executeScript does not await the script, so a failing migration
 * would be recorded as applied and its error surface as an unhandled rejection. This factory
 * returns adapters whose executeScript waits for the script and reports its error.
 */
export function pgliteAdapterFactory (db: PGlite): SqlMigrationAwareDriverAdapterFactory {
  const base = new PrismaPGlite(db)
  const fix = (adapter: SqlDriverAdapter) => scriptsWhole<PGlite>(adapter, (client, script) => client.exec(script))
  return {
    provider: base.provider,
    adapterName: base.adapterName,
    connect: async () => fix(await base.connect()),
    // The shadow database is a PGlite of its own (in memory, with the extensions): closed with its adapter.
    connectToShadowDb: async () => {
      const db = await createPglite('memory://')
      const shadow = fix(await new PrismaPGlite(db).connect())
      shadow.dispose = () => db.close()
      return shadow
    }
  }
}

export interface EmbeddedDatabase {
  db: PGlite
  /** Migrations applied while opening (empty when it was up to date). */
  applied: string[]
  close(): Promise<void>
}

/**
 * Opens (creating on first use) the embedded database in <dataDir>/pglite and applies pending
 * migrations, SQL then `dataMigrations`. Starting the wasm schema engine costs about a second, so it only runs when
 * _prisma_migrations shows something is missing.
 */
export async function openEmbeddedDatabase (dataDir: string, dataMigrations: DataMigration[]): Promise<EmbeddedDatabase> {
  const dir = pgliteDir(dataDir)
  await mkdir(dir, { recursive: true })
  const releaseLock = await acquireLock(join(dataDir, 'pglite.lock'))
  let db: PGlite | undefined
  try {
    db = await createPglite(dir)
    const query = async (sql: string) => (await db!.query<Record<string, unknown>>(sql)).rows
    const pending = [...(await pendingMigrations(query)), ...(await pendingDataMigrations(query, dataMigrations))]
    const applied = pending.length > 0 ? await applyMigrations(pgliteAdapterFactory(db), dataMigrations) : []
    const opened = db
    return {
      db,
      applied,
      close: async () => {
        try {
          if (!opened.closed) await opened.close()
        } finally {
          await releaseLock()
        }
      }
    }
  } catch (err) {
    await db?.close().catch(() => {})
    await releaseLock()
    throw err
  }
}

// PostgreSQL files opened by two processes at once get corrupted, and PGlite has no lock of
// its own: refuse to open while a live process (this one included: two apps) holds the data dir.
async function acquireLock (file: string): Promise<() => Promise<void>> {
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(file, String(process.pid), { flag: 'wx' })
      return () => rm(file, { force: true })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err
    }
    const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim())
    if (pid && isAlive(pid)) {
      throw new Error(
        `the embedded database in ${dirname(file)} is in use by process ${pid}; PGlite allows one open ` +
          'instance per DATA_DIR (set DATABASE_URL to run several instances)'
      )
    }
    await rm(file, { force: true }) // left by a process that died
  }
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
