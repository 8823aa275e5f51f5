// What the clients' failure classifiers share (redis-outage.ts, prisma/database-outage.ts): the
// outages guard (plugins/app/outages.ts) calls one of them on each error of a guarded call.

/** A classifier: what kind of outage an error is (a short stable name), or null when it is not one. */
export type OutageOf = (err: unknown) => string | null

export const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err))

const SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])

/** A connection that could not be made or was lost (Node's socket error codes). */
export const isSocketError = (err: unknown) =>
  typeof err === 'object' && err !== null && 'code' in err && SOCKET_ERRORS.has(String((err as { code: unknown }).code))
