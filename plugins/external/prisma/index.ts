// The PrismaClient: over PostgreSQL (@prisma/adapter-pg) when DATABASE_URL is set, else over
// the embedded PGlite in DATA_DIR, migrated on start. PostgreSQL is migrated by
// `npm run db:migrate` instead, so several instances never race to migrate at boot.
import fp from 'fastify-plugin'
import { PrismaPg } from '@prisma/adapter-pg'
import pg from 'pg'
import { PrismaClient } from './generated/client.js'
import { pendingDataMigrations, type DataMigration } from './data-migrations.js'
import { pendingMigrations } from './migrations.js'
import { openEmbeddedDatabase, pgliteAdapterFactory, pgliteDir } from './pglite.js'
import { throttledWarnings } from '../throttled-warnings.js'

export { Prisma, PrismaClient } from './generated/client.js'
export type { User as UserRow } from './generated/client.js'

declare module 'fastify' {
  interface FastifyInstance {
    prisma: PrismaClient
    /** Resolves when the database answers a trivial query; used by /health/ready. */
    dbPing: () => Promise<void>
    /** LISTEN on a channel of the database (the token store's liveness notices). */
    dbListen: DbListen
  }
}

/**
 * Listens on `channel` (a lowercase identifier): `onPayload` for each notification, `onLost` once
 * if the listening connection drops (never for PGlite, which is in-process). Resolves once the
 * LISTEN took effect, with the function that stops listening.
 */
export type DbListen = (channel: string, onPayload: (payload: string) => void, onLost: () => void) => Promise<() => Promise<void>>

export interface PrismaPluginOptions {
  /** The app's data migrations: applied to the embedded database on open, reported when pending on PostgreSQL. */
  dataMigrations: DataMigration[]
}

export default fp<PrismaPluginOptions>(
  async (fastify, { dataMigrations }) => {
    const { databaseUrl, dataDir } = fastify.config
    let prisma: PrismaClient
    let closeDatabase: () => Promise<void> = async () => {}
    let listen: DbListen

    if (databaseUrl) {
      const timeout = fastify.config.timeouts.dependency
      const warn = throttledWarnings(fastify.log)
      prisma = new PrismaClient({
        adapter: new PrismaPg(
          {
            connectionString: databaseUrl,
            // Every wait on PostgreSQL is bounded: getting a connection, and each query (on the
            // client when the server hangs, and on the server, which cancels the statement).
            connectionTimeoutMillis: timeout,
            query_timeout: timeout,
            statement_timeout: timeout,
            keepAlive: true
          },
          { onPoolError: (err) => warn(`pool:${err.message}`, { err: { message: err.message } }, 'postgres pool error') }
        )
      })
      // A connection of its own, outside the pool (a pooled one changes session between queries
      // and would drop the LISTEN); it must not go through a transaction-mode PgBouncer.
      listen = async (channel, onPayload, onLost) => {
        const client = new pg.Client({ connectionString: databaseUrl, keepAlive: true, connectionTimeoutMillis: Math.max(timeout, 2_000) })
        let lost = false
        const drop = () => {
          if (lost) return
          lost = true
          client.end().catch(() => {})
          onLost()
        }
        client.on('error', drop)
        client.on('end', drop)
        client.on('notification', (n) => {
          if (n.channel === channel && n.payload !== undefined) onPayload(n.payload)
        })
        try {
          await client.connect()
          await client.query(`LISTEN ${channel}`)
        } catch (err) {
          lost = true
          await client.end().catch(() => {})
          throw err
        }
        return async () => {
          lost = true
          await client.end().catch(() => {})
        }
      }
      // Migrating is a deploy step here (npm run db:migrate); say so early when it was skipped.
      // Not fatal: the database may be briefly down at boot, and /health/ready reports that.
      const query = (sql: string) => prisma.$queryRawUnsafe<Array<Record<string, unknown>>>(sql)
      await Promise.all([pendingMigrations(query), pendingDataMigrations(query, dataMigrations)]).then(([sql, data]) => [...sql, ...data]).then(
        (pending) => {
          if (pending.length > 0) fastify.log.warn({ pending }, 'database migrations pending: run `npm run db:migrate`')
        },
        (err: Error) => fastify.log.warn({ err: { message: err.message } }, 'could not check database migrations')
      )
    } else {
      const embedded = await openEmbeddedDatabase(dataDir, dataMigrations)
      if (embedded.applied.length > 0) fastify.log.info({ migrations: embedded.applied }, 'embedded database migrated')
      fastify.log.info(
        { dir: pgliteDir(dataDir) },
        'embedded PGlite database: one instance only; set DATABASE_URL for PostgreSQL'
      )
      // PGlite has one connection: the adapter queues queries, and an interactive transaction
      // holds it exclusively until it ends (other queries wait, they do not join it).
      prisma = new PrismaClient({ adapter: pgliteAdapterFactory(embedded.db) })
      closeDatabase = embedded.close
      // In-process: notifications come with the output of the statement that committed them.
      listen = async (channel, onPayload) => {
        const unlisten = await embedded.db.listen(channel, onPayload)
        return async () => {
          if (!embedded.db.closed) await unlisten()
        }
      }
    }

    fastify.decorate('prisma', prisma)
    fastify.decorate('dbPing', async () => {
      await prisma.$queryRaw`SELECT 1`
    })
    fastify.decorate('dbListen', listen)
    fastify.addHook('onClose', async () => {
      try {
        await prisma.$disconnect()
      } finally {
        await closeDatabase()
      }
    })
  },
  { name: 'prisma', dependencies: ['config'] }
)
