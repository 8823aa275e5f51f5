// The database layer: schema.prisma and the migrations agree (no drift), the migrations apply
// to PostgreSQL like `prisma migrate deploy`, and the embedded PGlite mode migrates itself on
// first start and keeps its data across restarts.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { PGlite } from '@electric-sql/pglite'
import { PrismaPg } from '@prisma/adapter-pg'
import { loadConfig } from '../../../../plugins/app/config/index.js'
import configPlugin from '../../../../plugins/app/config/index.js'
import prismaPlugin from '../../../../plugins/external/prisma/index.js'
import { applyMigrations, diffMigrationsToSchema, postgresAdapterFactory, prismaPaths, readMigrations } from '../../../../plugins/external/prisma/migrations.js'
import { createPglite, pgliteAdapterFactory } from '../../../../plugins/external/prisma/pglite.js'
import { dataMigrations } from '../../../../plugins/app/data-migrations.js'
import { createTestDatabase, createTestDataDir, TEST_PG_URL } from '../../../support/db.js'
import { withPlugins } from '../../../support/plugins.js'

const SECRET = 'test-secret-that-is-at-least-32-bytes-long!!'

async function buildDbApp (env: Record<string, string>): Promise<FastifyInstance> {
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', JWT_SECRET: SECRET, ...env })
  return (await withPlugins(null, [[configPlugin, { config }], [prismaPlugin, { dataMigrations }]])).app
}

async function withScratchPglite<T> (fn: (db: PGlite) => Promise<T>): Promise<T> {
  const db = await createPglite('memory://')
  try {
    return await fn(db)
  } finally {
    await db.close()
  }
}

t.test('schema.prisma and prisma/migrations do not drift', async (t) => {
  const list = await readMigrations()
  t.ok(list.migrationDirectories.length > 0, 'there are migrations')
  t.match(list.lockfile.content, /provider = "postgresql"/)
  const diff = await withScratchPglite((db) => diffMigrationsToSchema(pgliteAdapterFactory(db)))
  t.equal(diff, '', 'replaying the migrations yields exactly schema.prisma')
})

t.test('the drift check notices a schema change that has no migration', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'auth-drift-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const { schema, migrations } = prismaPaths()
  const edited = (await readFile(schema, 'utf8')).replace(/(\n\s*lastLogin\s[^\n]*\n)/, '$1  nickname String?\n')
  t.not(edited, await readFile(schema, 'utf8'), 'the copy of the schema was edited')
  await writeFile(join(dir, 'schema.prisma'), edited)
  await cp(migrations, join(dir, 'migrations'), { recursive: true })
  const diff = await withScratchPglite((db) =>
    diffMigrationsToSchema(pgliteAdapterFactory(db), { schema: join(dir, 'schema.prisma'), migrations: join(dir, 'migrations') })
  )
  t.match(diff, /ALTER TABLE "users" ADD COLUMN\s+"nickname" TEXT/)
})

t.test('a failing migration is reported, not recorded as applied (PGlite)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'auth-broken-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await cp(prismaPaths().migrations, dir, { recursive: true })
  await cp(join(dir, (await readMigrations()).migrationDirectories[0]!.path), join(dir, '99990101000000_broken'), { recursive: true })
  await writeFile(join(dir, '99990101000000_broken', 'migration.sql'), 'ALTER TABLE "users" ADD COLUMN "x" INT;\nSELECT no_such_function();\n')
  await withScratchPglite(async (db) => {
    await t.rejects(applyMigrations(pgliteAdapterFactory(db), [], { migrationsDir: dir }), /no_such_function/)
    const rows = await db.query<{ migration_name: string; finished_at: Date | null }>(
      'SELECT migration_name, finished_at FROM _prisma_migrations ORDER BY migration_name'
    )
    const broken = rows.rows.find((r) => r.migration_name === '99990101000000_broken')
    t.ok(broken, 'the attempt is recorded')
    t.equal(broken?.finished_at, null, 'as not finished')
  })
})

/** The migrations folder as it was before `name`, in a temporary folder. */
async function migrationsBefore (t: Test, name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'auth-before-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await cp(prismaPaths().migrations, dir, { recursive: true })
  for (const m of (await readMigrations()).migrationDirectories) if (m.path >= name) await rm(join(dir, m.path), { recursive: true })
  return dir
}

const MIGRATIONS = (await readMigrations()).migrationDirectories.map((m) => m.path).sort()
const PK_MIGRATION = MIGRATIONS.find((p) => p.endsWith('_user_pk_and_kept_refresh'))!

t.test('the users already there get their pk in the order they joined (PGlite and PostgreSQL); new users continue the sequence', async (t) => {
  t.ok(PK_MIGRATION, 'the migration that adds pk')
  const check = async (t: Test, factory: Parameters<typeof applyMigrations>[0], query: (sql: string) => Promise<Array<Record<string, unknown>>>) => {
    await applyMigrations(factory, [], { migrationsDir: await migrationsBefore(t, PK_MIGRATION) })
    // Inserted out of order: the numbers follow date_joined, not the table's physical order.
    for (const [name, joined] of [['carol', '2026-03-01'], ['alice', '2026-01-01'], ['bob', '2026-02-01']]) {
      await query(`INSERT INTO users (username, username_lower, email, email_lower, password_hash, date_joined)
        VALUES ('${name}', '${name}', '${name}@example.com', '${name}@example.com', 'x', '${joined}')`)
    }
    t.same(await applyMigrations(factory, []), MIGRATIONS.filter((m) => m >= PK_MIGRATION), 'the pk migration (and the later ones) apply over them')
    t.same(await query('SELECT username, pk FROM users ORDER BY pk'), [{ username: 'alice', pk: 1 }, { username: 'bob', pk: 2 }, { username: 'carol', pk: 3 }])
    await query("INSERT INTO users (username, username_lower, email, email_lower, password_hash) VALUES ('dave', 'dave', 'd@example.com', 'd@example.com', 'x')")
    t.same(await query("SELECT pk FROM users WHERE username = 'dave'"), [{ pk: 4 }], 'the next user gets the next number')
  }
  t.test('PGlite', (t) => withScratchPglite((db) => check(t, pgliteAdapterFactory(db), async (sql) => (await db.query<Record<string, unknown>>(sql)).rows)))
  t.test('PostgreSQL', async (t) => {
    const db = await createTestDatabase()
    t.teardown(() => db.drop())
    const pg = await new PrismaPg(db.url).connect()
    t.teardown(() => pg.dispose())
    await pg.executeScript('DROP SCHEMA public CASCADE; CREATE SCHEMA public')
    const query = async (sql: string) => {
      const r = await pg.queryRaw({ sql, args: [], argTypes: [] })
      return r.rows.map((row) => Object.fromEntries(r.columnNames.map((c, i) => [c, row[i]])))
    }
    await check(t, postgresAdapterFactory(db.url), query)
  })
})

t.test('migrations apply to PostgreSQL and are recorded in _prisma_migrations', async (t) => {
  // createTestDatabase clones an already migrated template; start from an empty database instead.
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const pg = await new PrismaPg(db.url).connect()
  t.teardown(() => pg.dispose())
  await pg.executeScript('DROP SCHEMA public CASCADE; CREATE SCHEMA public')
  const names = (await readMigrations()).migrationDirectories.map((m) => m.path)

  t.same(await applyMigrations(postgresAdapterFactory(db.url), dataMigrations), [...names, ...dataMigrations.map((m) => m.name)], 'every migration applied, then the data migrations')
  t.same(await applyMigrations(postgresAdapterFactory(db.url), dataMigrations), [], 'a second run applies nothing')
  const recorded = await pg.queryRaw({
    sql: 'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY migration_name',
    args: [],
    argTypes: []
  })
  t.same(recorded.rows.map((r) => r[0]), names)
  const columns = await pg.queryRaw({
    sql: "SELECT column_name FROM information_schema.columns WHERE table_name = 'users' ORDER BY column_name",
    args: [],
    argTypes: []
  })
  t.same(
    columns.rows.map((r) => r[0]),
    ['date_joined', 'email', 'email_lower', 'email_verified', 'first_name', 'id', 'is_active', 'is_staff', 'is_superuser', 'last_login', 'last_name', 'password_hash', 'pk', 'username', 'username_lower']
  )
})

t.test('PostgreSQL mode warns at start when migrations are pending', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const pg = await new PrismaPg(db.url).connect()
  await pg.executeScript('DROP SCHEMA public CASCADE; CREATE SCHEMA public')
  await pg.dispose()
  const config = loadConfig({ NODE_ENV: 'test', JWT_SECRET: SECRET, DATABASE_URL: db.url, DATA_DIR: join(tmpdir(), 'auth-unused') })
  const { logs: lines } = await withPlugins(t, [[configPlugin, { config }], [prismaPlugin, { dataMigrations }]], { logLevel: 'warn' })
  const names = (await readMigrations()).migrationDirectories.map((m) => m.path)
  t.match(lines, [{ level: 40, pending: names, msg: /migrations pending/ }])
})

t.test('PostgreSQL mode: the plugin connects, pings, and closes', async (t) => {
  const db = await createTestDatabase()
  t.teardown(() => db.drop())
  const app = await buildDbApp({ DATABASE_URL: db.url, DATA_DIR: join(tmpdir(), 'auth-unused') })
  await app.dbPing()
  const rows = await app.prisma.$queryRaw<Array<{ n: bigint }>>`SELECT count(*) AS n FROM _prisma_migrations`
  t.equal(Number(rows[0]!.n), (await readMigrations()).migrationDirectories.length)
  const admin = await new PrismaPg(TEST_PG_URL).connect()
  t.teardown(() => admin.dispose())
  const connections = async () =>
    Number(
      (await admin.queryRaw({ sql: 'SELECT count(*)::int FROM pg_stat_activity WHERE datname = $1', args: [db.name], argTypes: [{ scalarType: 'string', arity: 'scalar' }] }))
        .rows[0]![0]
    )
  t.ok((await connections()) > 0, 'the app holds a connection')
  await app.close()
  // A backend exits a moment after its client hangs up: poll for the end state.
  let left = await connections()
  for (let i = 0; i < 100 && left > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    left = await connections()
  }
  t.equal(left, 0, 'onClose ended the pool')
})

t.test('embedded mode migrates an empty data dir on first start and keeps data across restarts', async (t) => {
  const data = await createTestDataDir({ empty: true })
  t.teardown(() => data.cleanup())
  t.notOk(existsSync(join(data.dir, 'pglite')), 'starts empty')

  const first = await buildDbApp({ DATA_DIR: data.dir })
  await first.dbPing()
  const migrations = await first.prisma.$queryRaw<Array<{ migration_name: string }>>`
    SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY migration_name`
  t.same(migrations.map((m) => m.migration_name), (await readMigrations()).migrationDirectories.map((m) => m.path))
  const created = await first.prisma.user.create({
    data: { username: 'Persisted', usernameLower: 'persisted', email: 'p@example.com', emailLower: 'p@example.com', passwordHash: 'x' }
  })

  // A second instance on the same data dir is refused while the first is open.
  await t.rejects(buildDbApp({ DATA_DIR: data.dir }), /in use by process/)
  await first.close()
  t.notOk(existsSync(join(data.dir, 'pglite.lock')), 'the lock is released on close')

  const second = await buildDbApp({ DATA_DIR: data.dir })
  t.teardown(() => second.close())
  const found = await second.prisma.user.findUnique({ where: { id: created.id } })
  t.equal(found?.username, 'Persisted', 'the row survived the restart')
  const count = await second.prisma.$queryRaw<Array<{ n: bigint }>>`SELECT count(*) AS n FROM _prisma_migrations`
  t.equal(Number(count[0]!.n), migrations.length, 'nothing was migrated twice')
})

t.test('embedded mode: concurrent queries and an interactive transaction share the one connection', async (t) => {
  const data = await createTestDataDir()
  t.teardown(() => data.cleanup())
  const app = await buildDbApp({ DATA_DIR: data.dir })
  t.teardown(() => app.close())
  const row = (n: number) => ({
    username: `c${n}`, usernameLower: `c${n}`, email: `c${n}@x.io`, emailLower: `c${n}@x.io`, passwordHash: 'x'
  })
  // A transaction that stays open across an await while other queries are issued.
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  let inside!: () => void
  const started = new Promise<void>((resolve) => (inside = resolve))
  const tx = app.prisma.$transaction(async (tx) => {
    await tx.user.create({ data: row(0) })
    inside()
    await gate
    await tx.user.create({ data: row(1) })
  })
  await started
  const outside = Promise.all([1, 2, 3].map(() => app.prisma.user.count()))
  setTimeout(release, 50)
  await tx
  // PGlite's single connection: outside queries wait for the transaction to end, then all
  // succeed and see all of it (never half).
  t.same(await outside, [2, 2, 2])
  t.equal(await app.prisma.user.count(), 2)

  // A transaction that throws is rolled back.
  await t.rejects(
    app.prisma.$transaction(async (tx) => {
      await tx.user.create({ data: row(2) })
      throw new Error('boom')
    }),
    /boom/
  )
  t.equal(await app.prisma.user.count({ where: { username: 'c2' } }), 0, 'rolled back')
  await Promise.all(Array.from({ length: 20 }, (_, i) => app.prisma.user.create({ data: row(10 + i) })))
  t.equal(await app.prisma.user.count(), 22)
})
