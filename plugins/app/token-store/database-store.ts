// The token store on the database (PostgreSQL or the embedded PGlite), through Prisma: one row
// per session in `sessions`, the same contract as the Redis store. Creation and rotation are
// PL/pgSQL functions (prisma/migrations/*_sessions), each one statement, so one round trip: the
// rotation locks its row (SELECT ... FOR UPDATE) and decides exactly as the Redis Lua script does.
// Times come from the database's clock unless the caller passes `now` (tests). A revoked session
// stays as a tombstone (revoked, no jti) until its tokens would have expired, so its tokens answer
// "blacklisted"; expired rows are deleted a few at a time by each new session (no cron).
import type { PrismaClient } from '../../external/prisma/index.js'
import {
  DEVICE_LIMIT,
  DEVICE_WINDOW_MS,
  newestFirst,
  packAmr,
  rotateResult,
  unpackAmr,
  USER_AGENT_MAX,
  type IssuedRefresh,
  type NewSession,
  type RefreshStatus,
  type Rotation,
  type RotateResult,
  type SessionInfo,
  type SessionRef,
  type Ticket,
  type TokenStore,
  type TokenStoreOptions
} from './types.js'

/** Expired rows deleted per new session: more than one, so the table never falls behind. */
const SWEEP = 4

export class DatabaseTokenStore implements TokenStore {
  readonly kind = 'database' as const
  readonly #db: PrismaClient
  readonly #opts: TokenStoreOptions

  /** `prisma` is owned by the caller and is not closed by close(). */
  constructor (prisma: PrismaClient, options: TokenStoreOptions) {
    this.#db = prisma
    this.#opts = options
  }

  async createSession ({ sid, userId, jti, ip, userAgent, amr, now }: NewSession): Promise<IssuedRefresh> {
    const { refreshTtl, sessionMaxAge, accessTtl } = this.#opts
    const [row] = await this.#db.$queryRaw<Array<{ iat: bigint; exp: bigint }>>`
      SELECT iat, exp FROM auth_session_create(${sid}::text, ${userId}::text, ${jti}::text, ${refreshTtl}::int,
        ${sessionMaxAge}::int, ${accessTtl}::int, ${now ?? null}::bigint, ${SWEEP}::int, ${ip}::text,
        ${userAgent.slice(0, USER_AGENT_MAX)}::text, ${packAmr(amr)}::text)`
    if (!row) throw new Error('token store: auth_session_create returned nothing')
    return { jti, iat: Number(row.iat), exp: Number(row.exp) }
  }

  async rotate ({ sid, userId, jti, newJti, now, keep = false }: Rotation): Promise<RotateResult> {
    const { refreshTtl, reuseInterval, accessTtl } = this.#opts
    const [row] = await this.#db.$queryRaw<Array<{ status: string; jti: string | null; iat: bigint | null; exp: bigint | null }>>`
      SELECT status, jti, iat, exp FROM auth_session_rotate(${sid}::text, ${userId}::text, ${jti}::text, ${newJti}::text,
        ${refreshTtl}::int, ${reuseInterval * 1000}::bigint, ${accessTtl}::int, ${now ?? null}::bigint, ${keep}::boolean)`
    return rotateResult({ status: row?.status, jti: row?.jti ?? null, iat: row?.iat, exp: row?.exp })
  }

  async refreshStatus ({ userId, sid }: SessionRef, jti: string): Promise<RefreshStatus> {
    const [row] = await this.#db.$queryRaw<Array<{ status: RefreshStatus }>>`
      SELECT CASE WHEN revoked OR jti IS DISTINCT FROM ${jti}::text THEN 'blacklisted'
                  WHEN exp * 1000 > auth_now_ms() THEN 'current' ELSE 'unknown' END AS status
      FROM sessions WHERE sid = ${sid}::text AND user_id = ${userId}::text AND expires_at > auth_now_ms()`
    return row?.status ?? 'unknown'
  }

  async isSessionActive ({ userId, sid }: SessionRef): Promise<boolean> {
    const rows = await this.#db.$queryRaw<unknown[]>`
      SELECT 1 FROM sessions WHERE sid = ${sid}::text AND user_id = ${userId}::text AND NOT revoked AND expires_at > auth_now_ms()`
    return rows.length > 0
  }

  async listSessions (userId: string, now?: number): Promise<SessionInfo[]> {
    const rows = await this.#db.$queryRaw<
      Array<{ sid: string; created_at: bigint; last_used: bigint; exp: bigint; ip: string; user_agent: string; amr: string }>
    >`
      SELECT sid, created_at, COALESCE(GREATEST(rotated_at, last_used), created_at) AS last_used, exp, ip, user_agent, amr
      FROM sessions WHERE user_id = ${userId}::text AND NOT revoked AND expires_at > COALESCE(${now ?? null}::bigint, auth_now_ms())`
    return rows
      .map((r) => ({
        sid: r.sid,
        created: Number(r.created_at),
        lastUsed: Number(r.last_used),
        expires: Number(r.exp),
        ip: r.ip,
        userAgent: r.user_agent,
        amr: unpackAmr(r.amr)
      }))
      .sort(newestFirst)
  }

  // A revocation turns a live session into a tombstone that keeps its expiry.
  async revokeSession ({ userId, sid }: SessionRef): Promise<boolean> {
    const count = await this.#db.$executeRaw`
      UPDATE sessions SET revoked = true, jti = NULL, prev_jti = NULL, rotated_at = NULL, last_used = NULL
      WHERE sid = ${sid}::text AND user_id = ${userId}::text AND NOT revoked AND expires_at > auth_now_ms()`
    return count > 0
  }

  async revokeUserSessions (userId: string, exceptSid?: string): Promise<number> {
    return this.#db.$executeRaw`
      UPDATE sessions SET revoked = true, jti = NULL, prev_jti = NULL, rotated_at = NULL, last_used = NULL
      WHERE user_id = ${userId}::text AND sid <> ${exceptSid ?? ''}::text AND NOT revoked AND expires_at > auth_now_ms()`
  }

  // A ticket lives until expires_at (the database's clock) and while tries < max_tries; each new
  // one sweeps a few expired rows, as new sessions do.
  async putTicket (key: string, value: string, ttl: number, maxTries: number): Promise<void> {
    await this.#db.$executeRaw`
      WITH swept AS (
        DELETE FROM auth_tickets WHERE key IN (
          SELECT t.key FROM auth_tickets t WHERE t.expires_at <= auth_now_ms() AND t.key <> ${key}::text LIMIT ${SWEEP}::int FOR UPDATE SKIP LOCKED))
      INSERT INTO auth_tickets (key, value, tries, max_tries, expires_at)
      VALUES (${key}::text, ${value}::text, 0, ${maxTries}::int, auth_now_ms() + ${ttl * 1000}::bigint)
      ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, tries = 0, max_tries = EXCLUDED.max_tries, expires_at = EXCLUDED.expires_at`
  }

  async rememberDevice (userId: string, device: string, now?: number): Promise<boolean> {
    // One statement. The upsert keeps the device's previous sign-in beside its latest: of two
    // sign-ins from one new device, the second waits on the first's row and sees it. The user's
    // rows past the window or the limit go, and a few expired rows of anyone (no cron).
    const [row] = await this.#db.$queryRaw<Array<{ previous: bigint | number | null; now: bigint | number }>>`
      WITH t AS (SELECT COALESCE(${now ?? null}::bigint, auth_now_ms()) AS now),
      up AS (
        INSERT INTO known_devices (user_id, device, last_seen) SELECT ${userId}::uuid, ${device}::text, t.now FROM t
        ON CONFLICT (user_id, device) DO UPDATE SET previous = known_devices.last_seen, last_seen = EXCLUDED.last_seen
        RETURNING previous),
      pruned AS (
        DELETE FROM known_devices k USING t WHERE k.user_id = ${userId}::uuid AND k.device <> ${device}::text AND (
          k.last_seen <= t.now - ${DEVICE_WINDOW_MS}::bigint OR k.device IN (
            SELECT device FROM known_devices WHERE user_id = ${userId}::uuid AND device <> ${device}::text ORDER BY last_seen DESC OFFSET ${DEVICE_LIMIT - 1}::int))),
      swept AS (
        DELETE FROM known_devices WHERE (user_id, device) IN (
          SELECT k.user_id, k.device FROM known_devices k, t WHERE k.last_seen <= t.now - ${DEVICE_WINDOW_MS}::bigint AND k.user_id <> ${userId}::uuid
          LIMIT ${SWEEP}::int FOR UPDATE SKIP LOCKED))
      SELECT up.previous, t.now FROM up, t`
    return row !== undefined && row.previous !== null && Number(row.previous) > Number(row.now) - DEVICE_WINDOW_MS
  }

  async forgetDevices (userId: string): Promise<void> {
    await this.#db.$executeRaw`DELETE FROM known_devices WHERE user_id = ${userId}::uuid`
  }

  async getTicket (key: string): Promise<Ticket | null> {
    const [row] = await this.#db.$queryRaw<Array<{ value: string; tries: number }>>`
      SELECT value, tries FROM auth_tickets WHERE key = ${key}::text AND expires_at > auth_now_ms() AND tries < max_tries`
    return row ? { value: row.value, tries: Number(row.tries) } : null
  }

  async takeTicket (key: string): Promise<string | null> {
    const [row] = await this.#db.$queryRaw<Array<{ value: string; live: boolean }>>`
      DELETE FROM auth_tickets WHERE key = ${key}::text RETURNING value, (expires_at > auth_now_ms() AND tries < max_tries) AS live`
    return row?.live ? row.value : null
  }

  async failTicket (key: string): Promise<number> {
    const [row] = await this.#db.$queryRaw<Array<{ left: number }>>`
      UPDATE auth_tickets SET tries = tries + 1 WHERE key = ${key}::text AND expires_at > auth_now_ms() AND tries < max_tries
      RETURNING max_tries - tries AS left`
    return row ? Number(row.left) : 0
  }

  async ping (): Promise<void> {
    await this.#db.$queryRaw`SELECT 1`
  }

  async close (): Promise<void> {
    // The client belongs to whoever passed it in (the prisma plugin closes it).
  }
}
