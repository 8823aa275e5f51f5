// The benchmark's PostgreSQL database: made when missing, migrated, emptied of users.
import type { WriteStream } from 'node:fs'
import pg from 'pg'
import { migrate } from './processes.js'

/** `fn` with a client connected to `url`, closed after. */
export async function withClient<T> (url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** The database of `url` exists, is migrated and has no users. */
export async function ensureDatabase (url: string, dist: string, log: WriteStream, say: (line: string) => void): Promise<void> {
  const name = new URL(url).pathname.slice(1)
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`bench database name not supported: ${name}`)
  const admin = new URL(url)
  admin.pathname = '/postgres'
  await withClient(admin.toString(), async (client) => {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
    if (!rowCount) {
      await client.query(`CREATE DATABASE "${name}"`)
      say(`created database ${name}`)
    }
  })
  await migrate(dist, url, log)
  // The database is the benchmark's own: start from no users.
  await withClient(url, (db) => db.query('TRUNCATE users CASCADE'))
}
