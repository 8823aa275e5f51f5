// The token store on Redis: one hash per session and one index of the user's sessions, every key
// of a user in the user's hash slot, so each operation is one script on one slot (lua.ts) and the
// store runs unchanged on Redis Cluster. Every key carries a TTL that ends when the tokens it
// describes expire.
import type { RedisClient } from '../../external/redis.js'
import { deviceKey, packJti, pieces, sessionKey, sessionsOf, ticketKey, userKey } from './packing.js'

export { packJti, packUserId, pieces, sessionKey, sessionsOf, userKey } from './packing.js'
import { CONFIRM_ANSWERED, CREATE, DEVICE_REMEMBER, LIST, MARK_UNANSWERED, REVOKE, REVOKE_ALL, ROTATE, TICKET_FAIL, TICKET_PUT, TICKET_TAKE } from './lua.js'
import { NotReplicatedError, ReplicaTargets, writerOf, type Replication } from './replication.js'
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

// Command names on the shared client: specific enough not to collide with other users of it.
const COMMANDS = {
  tokenStoreCreate: [CREATE, 2],
  tokenStoreRotate: [ROTATE, 2],
  tokenStoreRevoke: [REVOKE, 2],
  tokenStoreRevokeAll: [REVOKE_ALL, 2],
  tokenStoreList: [LIST, 2],
  tokenStoreMarkUnanswered: [MARK_UNANSWERED, 1],
  tokenStoreConfirmAnswered: [CONFIRM_ANSWERED, 1],
  tokenStoreTicketPut: [TICKET_PUT, 1],
  tokenStoreTicketTake: [TICKET_TAKE, 1],
  tokenStoreTicketFail: [TICKET_FAIL, 1],
  tokenStoreDeviceRemember: [DEVICE_REMEMBER, 1]
} as const

// How long a user's index outlives its latest member: covers the clocks of callers that pass
// their own time (tests) against Redis's.
const INDEX_SLACK_MS = 60_000

// A hash stays a compact listpack while every value is at most 64 bytes (hash-max-listpack-value):
// the user agent is stored in pieces of that size. 256 characters of up to 2 bytes each (a
// header is Latin-1) make at most 8 pieces, the number of fields the scripts read (other text
// is cut there).
const PIECE_BYTES = 64
const MAX_PIECES = 8

type Arg = string | number | Buffer
interface ScriptCommands {
  tokenStoreCreate(session: string, index: string, ...args: Arg[]): Promise<[number, number]>
  /** Replies as Buffers: a grace answer carries the current jti's bytes. */
  tokenStoreRotateBuffer(session: string, index: string, ...args: Arg[]): Promise<Array<Buffer | number>>
  tokenStoreRevoke(session: string, index: string, sid: string): Promise<number>
  tokenStoreRevokeAll(index: string, sessions: string, except: string): Promise<number>
  tokenStoreList(index: string, sessions: string, now: Arg): Promise<string[]>
  tokenStoreMarkUnanswered(session: string, jti: Buffer): Promise<number>
  tokenStoreConfirmAnswered(session: string, jti: Buffer): Promise<number>
  tokenStoreTicketPut(ticket: string, value: string, ttl: number, maxTries: number): Promise<number>
  tokenStoreTicketTake(ticket: string): Promise<string | null>
  tokenStoreTicketFail(ticket: string): Promise<number>
  tokenStoreDeviceRemember(devices: string, device: string, now: Arg, window: number, limit: number): Promise<number>
}

type WriteCommand = 'tokenStoreCreate' | 'tokenStoreRotateBuffer' | 'tokenStoreRevoke' | 'tokenStoreRevokeAll'

export class RedisTokenStore implements TokenStore {
  readonly kind = 'redis' as const
  readonly #redis: RedisClient & ScriptCommands
  readonly #opts: TokenStoreOptions
  readonly #replication: Replication
  readonly #writers: Array<RedisClient & ScriptCommands>
  readonly #targets: ReplicaTargets
  /** Removes what this store listens to on connections it does not own. */
  readonly #listeners: Array<() => void> = []

  /** `redis` is owned by the caller (its keyPrefix already set) and is not closed by close(). */
  constructor (redis: RedisClient, options: TokenStoreOptions, replication: Replication = { replicas: 0, timeoutMs: 0 }) {
    this.#opts = options
    this.#replication = replication
    // defineCommand: EVALSHA with a transparent EVAL on NOSCRIPT (e.g. after a Redis restart).
    for (const client of [redis, ...(replication.writers ?? [])]) {
      for (const [name, [lua, numberOfKeys]] of Object.entries(COMMANDS)) {
        if (!(name in client)) client.defineCommand(name, { numberOfKeys, lua })
      }
    }
    this.#redis = redis as RedisClient & ScriptCommands
    this.#writers = (replication.writers?.length ? replication.writers : [redis]) as Array<RedisClient & ScriptCommands>
    this.#targets = new ReplicaTargets(replication.replicas, redis, replication.probe)
    if (replication.replicas > 0) {
      // What each master has under its replication ID, whenever a write connection (re)connects.
      for (const writer of new Set(this.#writers)) {
        const observe = () => {
          this.#targets.observe(writer).catch(() => {})
        }
        writer.on('ready', observe)
        // The connection may outlive this store (it is the caller's): the listener goes with the store.
        this.#listeners.push(() => writer.off('ready', observe))
        if (writer.status === 'ready') observe()
      }
    }
  }

  /** The connection that carries a user's writes (in the order they were made). */
  #writerOf (userId: string): RedisClient & ScriptCommands {
    return this.#replication.replicas === 0 ? this.#redis : this.#writers[writerOf(userId, this.#writers.length)]!
  }

  /**
   * A write script, followed by WAIT in the same pipeline (still one round trip) when replicas
   * must have it: an answer the master gave but no replica holds could be lost by a failover
   * (a revoked session coming back, a rotated chain forked), so it is a 503 and the client retries.
   */
  async #write<T>(userId: string, command: WriteCommand, ...args: Arg[]): Promise<T> {
    const { replicas, timeoutMs } = this.#replication
    const writer = this.#writerOf(userId)
    if (replicas === 0) return (writer[command] as (...a: Arg[]) => Promise<T>).apply(writer, args)
    const route = this.#targets.route(userKey(userId))
    const wanted = this.#targets.target(route)
    const pipeline = writer.pipeline() as unknown as Record<WriteCommand, (...a: Arg[]) => unknown> & {
      wait(replicas: number, timeout: number): unknown
      exec(): Promise<Array<[Error | null, unknown]> | null>
    }
    pipeline[command](...args)
    pipeline.wait(wanted, timeoutMs)
    const [[err, value] = [null, null], [waitErr, acked] = [null, 0]] = (await pipeline.exec()) ?? []
    if (err) throw err
    if (waitErr) throw waitErr
    if (Number(acked) < wanted && !(await this.#targets.covers(writer, route, Number(acked)).catch(() => false))) {
      throw new NotReplicatedError(`token store: ${Number(acked)} of ${wanted} replicas acknowledged the write in ${timeoutMs} ms`)
    }
    return value as T
  }

  async createSession (s: NewSession): Promise<IssuedRefresh> {
    const { refreshTtl, sessionMaxAge, accessTtl } = this.#opts
    const [iat, exp] = await this.#write<[number, number]>(
      s.userId,
      'tokenStoreCreate',
      sessionKey(s),
      userKey(s.userId),
      s.sid,
      packJti(s.jti),
      s.now ?? '',
      refreshTtl,
      sessionMaxAge,
      accessTtl * 1000,
      INDEX_SLACK_MS,
      s.ip,
      packAmr(s.amr),
      ...pieces(s.userAgent.slice(0, USER_AGENT_MAX), PIECE_BYTES).slice(0, MAX_PIECES)
    )
    return { jti: s.jti, iat: Number(iat), exp: Number(exp) }
  }

  async rotate (r: Rotation): Promise<RotateResult> {
    const { refreshTtl, accessTtl, reuseInterval, sessionMaxAge } = this.#opts
    const jti = packJti(r.jti)
    // Where writes wait for replicas, the answer is confirmed after WAIT (see lua.ts, u).
    const confirmed = this.#replication.replicas > 0
    let reply: Array<Buffer | number>
    try {
      reply = await this.#write<Array<Buffer | number>>(
        r.userId,
        'tokenStoreRotateBuffer',
        sessionKey(r),
        userKey(r.userId),
        r.sid,
        jti,
        packJti(r.newJti),
        r.now ?? '',
        refreshTtl,
        reuseInterval * 1000,
        accessTtl * 1000,
        INDEX_SLACK_MS,
        sessionMaxAge,
        confirmed ? '1' : '',
        r.keep ? '1' : ''
      )
    } catch (err) {
      // The client gets a 503, yet the rotation (or grace answer) may have run: its WAIT fell
      // short, or its reply was lost. Its retry must not look like reuse once the grace interval
      // is over. Where answers are confirmed, the script marked the session itself (and the mark
      // fails over with the rotation); elsewhere the session is marked now, after the call on
      // the same connection, if it moved on from this token. Not awaited: the 503 is not held up
      // by a Redis in trouble.
      // (A refresh that kept its token moved nothing: the mark finds the token still current.)
      if (!confirmed) this.#writerOf(r.userId).tokenStoreMarkUnanswered(sessionKey(r), jti).catch(() => {})
      throw err
    }
    const status = String(reply[0])
    const current = reply[1] instanceof Buffer ? reply[1] : null
    // Given: the grace interval alone applies again. Not awaited (nothing waits for it); if it is
    // lost, the previous token stays answerable until the next rotation. ('kept' marked nothing.)
    if (confirmed && current && status !== 'kept') this.#writerOf(r.userId).tokenStoreConfirmAnswered(sessionKey(r), current).catch(() => {})
    return rotateResult({ status, jti: current ? current.toString('base64url') : null, iat: reply[2], exp: reply[3] })
  }

  async refreshStatus (s: SessionRef, jti: string): Promise<RefreshStatus> {
    const [j, e, x] = await this.#redis.hmgetBuffer(sessionKey(s), 'j', 'e', 'x')
    if (x) return 'blacklisted'
    if (!j) return 'unknown'
    if (!j.equals(packJti(jti))) return 'blacklisted'
    // The record outlives its refresh token by the last access token's lifetime.
    return Number(e) * 1000 > Date.now() ? 'current' : 'unknown'
  }

  async isSessionActive (s: SessionRef): Promise<boolean> {
    return (await this.#redis.hexists(sessionKey(s), 'j')) === 1
  }

  async listSessions (userId: string, now?: number): Promise<SessionInfo[]> {
    const flat = await this.#redis.tokenStoreList(userKey(userId), sessionsOf(userId), now ?? '')
    const sessions: SessionInfo[] = []
    for (let i = 0; i + 6 < flat.length; i += 7) {
      const created = Number(flat[i + 1])
      sessions.push({
        sid: flat[i]!,
        created,
        lastUsed: flat[i + 2] ? Number(flat[i + 2]) : created,
        expires: Number(flat[i + 3]),
        ip: flat[i + 4]!,
        userAgent: flat[i + 5]!,
        amr: unpackAmr(flat[i + 6])
      })
    }
    return sessions.sort(newestFirst)
  }

  async revokeSession (s: SessionRef): Promise<boolean> {
    return (await this.#write<number>(s.userId, 'tokenStoreRevoke', sessionKey(s), userKey(s.userId), s.sid)) === 1
  }

  async revokeUserSessions (userId: string, exceptSid?: string): Promise<number> {
    return this.#write<number>(userId, 'tokenStoreRevokeAll', userKey(userId), sessionsOf(userId), exceptSid ?? '')
  }

  // Tickets are written without waiting for replicas: a ceremony a failover loses is begun again
  // (a sign-in asks for its password again), and none of them grants anything by being lost.
  async putTicket (key: string, value: string, ttl: number, maxTries: number): Promise<void> {
    await this.#redis.tokenStoreTicketPut(ticketKey(key), value, ttl, maxTries)
  }

  async getTicket (key: string): Promise<Ticket | null> {
    const [value, tries] = await this.#redis.hmget(ticketKey(key), 'v', 'n')
    return value === null || value === undefined ? null : { value, tries: Number(tries ?? 0) }
  }

  async takeTicket (key: string): Promise<string | null> {
    return (await this.#redis.tokenStoreTicketTake(ticketKey(key))) ?? null
  }

  async failTicket (key: string): Promise<number> {
    return Number(await this.#redis.tokenStoreTicketFail(ticketKey(key)))
  }

  async rememberDevice (userId: string, device: string, now?: number): Promise<boolean> {
    return (await this.#writerOf(userId).tokenStoreDeviceRemember(deviceKey(userId), device, now ?? '', DEVICE_WINDOW_MS, DEVICE_LIMIT)) === 1
  }

  async forgetDevices (userId: string): Promise<void> {
    await this.#writerOf(userId).del(deviceKey(userId))
  }

  async ping (): Promise<void> {
    await this.#redis.ping()
  }

  async close (): Promise<void> {
    // The client belongs to whoever passed it in (the redis plugin closes it).
    this.#targets.close()
    for (const remove of this.#listeners.splice(0)) remove()
  }
}
