// Migrations through the wasm schema engine: apply the migrations folder (what `prisma migrate
// deploy` does, recorded in _prisma_migrations) and diff it against schema.prisma (what
// `prisma migrate diff` does), for new migrations and for the drift test.
import { existsSync } from 'node:fs'
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PrismaPg } from '@prisma/adapter-pg'
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils'
import { applyDataMigrations, type DataMigration } from './data-migrations.js'
import { withSchemaEngine, type EngineOptions, type MigrationList } from './schema-engine.js'

export interface PrismaPaths {
  schema: string
  migrations: string
}

/**
 * Where schema.prisma and the migrations folder are: found by walking up from this file, so
 * it works from the source tree (tsx) and from dist/ (tsc build) alike.
 */
export function prismaPaths (): PrismaPaths {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const schema = join(dir, 'prisma', 'schema.prisma')
    if (existsSync(schema)) return { schema, migrations: join(dir, 'prisma', 'migrations') }
    const parent = dirname(dir)
    if (parent === dir) throw new Error('prisma/schema.prisma not found above ' + fileURLToPath(import.meta.url))
    dir = parent
  }
}

/**
 * The adapter, with an executeScript that sends the script whole to its driver client (through
 * `run`) and waits for it, reporting an error the adapter's own way. The driver adapters' own
 * versions fall short for migrations (see postgresAdapterFactory and pgliteAdapterFactory).
 */
export function scriptsWhole<Client> (adapter: SqlDriverAdapter, run: (client: Client, script: string) => Promise<unknown>): SqlDriverAdapter {
  const inner = adapter as SqlDriverAdapter & { client: Client; onError(e: unknown): never }
  adapter.executeScript = async (script: string) => {
    try {
      await run(inner.client, script)
    } catch (err) {
      inner.onError(err)
    }
  }
  return adapter
}

/**
 * PrismaPg for migrating. Its executeScript splits a script on every ";" and sends the pieces one
 * by one (on any connection of the pool), which breaks a function body (PL/pgSQL is full of them)
 * and a transaction; these adapters send the script as one simple query, as Prisma's native engine does.
 */
export function postgresAdapterFactory (config: ConstructorParameters<typeof PrismaPg>[0]): SqlMigrationAwareDriverAdapterFactory {
  const base = new PrismaPg(config)
  const whole = (adapter: SqlDriverAdapter) => scriptsWhole<{ query(sql: string): Promise<unknown> }>(adapter, (client, script) => client.query(script))
  return {
    provider: base.provider,
    adapterName: base.adapterName,
    connect: async () => whole(await base.connect()),
    connectToShadowDb: async () => whole(await base.connectToShadowDb())
  }
}

const LOCKFILE = 'migration_lock.toml'

/** Reads the migrations folder in the shape the engine expects (names sorted, as Prisma does). */
export async function readMigrations (migrationsDir = prismaPaths().migrations): Promise<MigrationList> {
  const baseDir = resolve(migrationsDir)
  const entries = existsSync(baseDir) ? await readdir(baseDir, { withFileTypes: true }) : []
  const names = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort()
  const migrationDirectories = await Promise.all(
    names.map(async (name) => {
      const file = join(baseDir, name, 'migration.sql')
      const content = await readFile(file, 'utf8').then(
        (value) => ({ tag: 'ok' as const, value }),
        (err: Error) => ({ tag: 'error' as const, value: err.message })
      )
      return { path: name, migrationFile: { path: 'migration.sql', content } }
    })
  )
  const lockContent = await readFile(join(baseDir, LOCKFILE), 'utf8').catch(() => null)
  return {
    baseDir,
    lockfile: { path: LOCKFILE, content: lockContent },
    shadowDbInitScript: '',
    migrationDirectories
  }
}

/**
 * Names in the migrations folder not recorded as applied in _prisma_migrations. `query` runs
 * one SQL statement and returns its rows as objects (PGlite's query, or Prisma's $queryRawUnsafe).
 */
export async function pendingMigrations (query: (sql: string) => Promise<Array<Record<string, unknown>>>): Promise<string[]> {
  const all = (await readMigrations()).migrationDirectories.map((m) => m.path)
  const [table] = await query('SELECT to_regclass(\'_prisma_migrations\')::text AS t')
  if (!table?.t) return all
  const applied = await query(
    'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL'
  )
  const done = new Set(applied.map((r) => r.migration_name))
  return all.filter((name) => !done.has(name))
}

const noFilters = { externalTables: [], externalEnums: [] }

/**
 * Applies every migration not yet recorded in _prisma_migrations, then every one of
 * `dataMigrations` not yet recorded (data-migrations.ts); returns the names applied.
 */
export async function applyMigrations (
  adapterFactory: SqlMigrationAwareDriverAdapterFactory,
  dataMigrations: DataMigration[],
  options: EngineOptions & { migrationsDir?: string } = {}
): Promise<string[]> {
  const migrationsList = await readMigrations(options.migrationsDir)
  const out = await withSchemaEngine(
    adapterFactory,
    (engine) => engine.applyMigrations({ migrationsList, filters: noFilters }),
    options
  )
  return [...out.appliedMigrationNames, ...(await applyDataMigrations(adapterFactory, dataMigrations))]
}

/**
 * The SQL that would bring a database migrated with the migrations folder to schema.prisma;
 * '' when they agree. Uses the factory's shadow database to replay the migrations.
 */
export async function diffMigrationsToSchema (
  shadowFactory: SqlMigrationAwareDriverAdapterFactory,
  paths: Partial<PrismaPaths> = {},
  options: EngineOptions = {}
): Promise<string> {
  const { schema, migrations } = { ...prismaPaths(), ...paths }
  const content = await readFile(schema, 'utf8')
  const migrationsList = await readMigrations(migrations)
  const out = await withSchemaEngine(
    shadowFactory,
    (engine) =>
      engine.diff({
        // With no migrations yet (no lockfile to name the connector), start from nothing.
        from: migrationsList.migrationDirectories.length === 0 ? { tag: 'empty' } : { tag: 'migrations', ...migrationsList },
        to: { tag: 'schemaDatamodel', files: [{ path: schema, content }] },
        script: true,
        exitCode: null,
        filters: noFilters
      }),
    { ...options, datamodels: [[schema, content]] }
  )
  const sql = out.stdout ?? ''
  // An empty diff is reported as a comment only.
  return sql.replace(/^--.*$/gm, '').trim() === '' ? '' : sql
}

/**
 * Writes prisma/migrations/<timestamp>_<name>/migration.sql with the diff between the
 * migrations folder and schema.prisma (and migration_lock.toml when missing). Returns the
 * folder name, or null when there is nothing to migrate.
 */
export async function createMigration (
  shadowFactory: SqlMigrationAwareDriverAdapterFactory,
  name: string,
  paths: Partial<PrismaPaths> = {}
): Promise<string | null> {
  const { migrations } = { ...prismaPaths(), ...paths }
  const sql = await diffMigrationsToSchema(shadowFactory, paths)
  if (sql === '') return null
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '') || 'migration'
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14)
  const folder = `${stamp}_${slug}`
  await mkdir(join(migrations, folder), { recursive: true })
  await writeFile(join(migrations, folder, 'migration.sql'), sql.endsWith('\n') ? sql : sql + '\n')
  const lock = join(migrations, LOCKFILE)
  if (!existsSync(lock)) {
    await writeFile(
      lock,
      '# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\nprovider = "postgresql"\n'
    )
  }
  return folder
}
