// Which errors of the PrismaClient (index.ts) are outages, for the outages guard: a 503 and a
// throttled warning instead of a 500.
import { errorMessage, isSocketError, type OutageOf } from '../outage.js'

// PostgreSQL error classes that say the server cannot serve now: connection exceptions (08),
// insufficient resources (53), operator intervention (57: shutdown, cancelled by statement_timeout),
// a read-only transaction (25006: a replica), and could-not-serialize under load (40001).
const PG_OUTAGE = /^(08|53|57)|^25006$|^40001$/

/** Prisma over pg or PGlite: no connection, a timeout, or the server refusing for its state. */
export const databaseOutage: OutageOf = (err) => {
  if (!(err instanceof Error)) return null
  if (err.name === 'PrismaClientInitializationError') return 'down'
  const e = err as Error & { code?: string; meta?: { driverAdapterError?: { cause?: { kind?: string; originalCode?: string; code?: string } } } }
  const cause = e.meta?.driverAdapterError?.cause
  const sqlState = cause?.originalCode ?? cause?.code
  if (sqlState && PG_OUTAGE.test(sqlState)) return sqlState.startsWith('57014') ? 'timeout' : 'refused'
  if (cause?.kind && /NotReachable|Timeout|ConnectionClosed|TooManyConnections|SocketTimeout/i.test(cause.kind)) return cause.kind
  // Prisma's own codes for a server out of reach, a timeout, a closed connection, a pool timeout.
  if (e.code && ['P1001', 'P1002', 'P1008', 'P1017', 'P2024'].includes(e.code)) return e.code
  const m = errorMessage(err)
  if (/timeout|timed out|Connection terminated|connect ECONNREFUSED|ECONNRESET|Connection closed|the database system is (starting|shutting) down|terminating connection/i.test(m)) return 'down'
  if (isSocketError(err)) return 'down'
  return null
}
