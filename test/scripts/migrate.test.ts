// `npm run db:migrate` as an operator runs it: a child process, settings from the environment or
// from the working directory's .env, against a database that may not exist yet.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { databaseUrl, TEST_PG_URL } from '../support/db.js'
import { withClient } from '../../bench/database.js'
import { readMigrations } from '../../plugins/external/prisma/migrations.js'

const root = new URL('../..', import.meta.url).pathname

async function migrate (cwd: string, env: Record<string, string>): Promise<{ code: number; output: string }> {
  const args = ['--import', import.meta.resolve('tsx'), join(root, 'scripts', 'migrate.ts')]
  const run = promisify(execFile)(process.execPath, args, { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env } })
  return run.then(
    ({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, output: err.stdout + err.stderr })
  )
}

t.test('a database that does not exist yet is created (its name quoted), then migrated; the environment wins over .env', async (t) => {
  // Upper case, a space and a double quote: only a properly quoted identifier names it.
  const name = `auth_Migrate "new" ${randomBytes(4).toString('hex')}`
  const url = databaseUrl(name)
  const quoted = '"' + name.replace(/"/g, '""') + '"'
  t.teardown(() => withClient(TEST_PG_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${quoted} WITH (FORCE)`)))
  const exists = () => withClient(TEST_PG_URL, async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1)
  t.notOk(await exists())

  // As the README's production block: DATABASE_URL from .env in the working directory.
  const cwd = mkdtempSync(join(tmpdir(), 'auth-migrate-'))
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }))
  writeFileSync(join(cwd, '.env'), `DATABASE_URL=${url}\n`)
  const first = await migrate(cwd, {})
  t.equal(first.code, 0, first.output)
  t.match(first.output, `created database ${name}`)
  t.match(first.output, /applied: /)
  t.ok(await exists(), 'the database exists')
  const { migrationDirectories } = await readMigrations()
  const applied = await withClient(url, async (c) => (await c.query('SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY 1')).rows.map((r) => r.migration_name as string))
  t.same(applied, migrationDirectories.map((m) => m.path).sort(), 'every migration is applied')

  // The environment's DATABASE_URL wins over the file's (which now names a server nobody runs).
  writeFileSync(join(cwd, '.env'), 'DATABASE_URL=postgresql://postgres@127.0.0.1:1/nowhere\n')
  const again = await migrate(cwd, { DATABASE_URL: url })
  t.equal(again.code, 0, again.output)
  t.notMatch(again.output, /created database/, 'an existing database is left alone')
  t.match(again.output, /database is up to date/)
})
