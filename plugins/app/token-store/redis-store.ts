// The token store on Redis: one hash per session, hash-tagged by sid so every script runs on one
// Cluster slot, and a per-user ZSET index for logout-all. Every key carries a TTL that ends when
// the tokens it describes expire. Scripts: see lua.ts.
// Redis Cluster: each script touches one key, but createSession, rotate and revokeUserSessions
// pipeline a session key with the user's index key (different slots); a Cluster client would
// need those pipelines split per slot. Only a single Redis is tested.
import type { Redis } from 'ioredis'
import { isUuid } from '../ids.js'
import { CREATE, INDEX, REVOKE, ROTATE } from './lua.js'
import type { IssuedRefresh, NewSession, RefreshStatus, Rotation, RotateResult, TokenStore, TokenStoreOptions } from './types.js'

// Command names on the shared client: specific enough not to collide with other users of it.
const CMD_CREATE = 'tokenStoreCreate'
const CMD_ROTATE = 'tokenStoreRotate'
const CMD_REVOKE = 'tokenStoreRevoke'
const CMD_INDEX = 'tokenStoreIndex'

// Covers clock skew between instances when the user index's TTL is derived from client times.
const INDEX_SLACK_MS = 60_000

type Callback = (err: Error | null, res?: unknown) => void
interface ScriptCommands {
  tokenStoreCreate(key: string, ...args: Array<string | number>): Promise<[number, number]>
  tokenStoreRotate(key: string, ...args: Array<string | number>): Promise<Array<string | number>>
  tokenStoreRevoke(key: string): Promise<string | null>
  tokenStoreIndex(key: string, ...args: Array<string | number>): Promise<number>
}
type ScriptPipeline = {
  [K in keyof ScriptCommands]: (...args: [...Parameters<ScriptCommands[K]>, Callback?]) => ScriptPipeline
} & { exec(): Promise<Array<[Error | null, unknown]> | null> }

/**
 * The user id as stored (hash field and index key): a UUID as its 16 bytes in base64url, 22
 * characters instead of 36, which keeps a session under 400 bytes. Never decoded: everything is
 * keyed by the packed form. Other ids get a "=" (not in base64url), so packing stays one-to-one.
 */
export const packUserId = (userId: string) =>
  isUuid(userId) ? Buffer.from(userId.replace(/-/g, ''), 'hex').toString('base64url') : `=${userId}`
export const sessionKey = (sid: string) => `s:{${sid}}`
/** Takes the user id as given (unpacked). */
export const userKey = (userId: string) => indexKey(packUserId(userId))
const indexKey = (packed: string) => `u:{${packed}}`

export class RedisTokenStore implements TokenStore {
  readonly kind = 'redis' as const
  readonly #redis: Redis & ScriptCommands
  readonly #opts: TokenStoreOptions

  /** `redis` is owned by the caller (its keyPrefix already set) and is not closed by close(). */
  constructor(redis: Redis, options: TokenStoreOptions) {
    this.#opts = options
    // defineCommand: EVALSHA with a transparent EVAL on NOSCRIPT (e.g. after a Redis restart).
    for (const [name, lua] of [[CMD_CREATE, CREATE], [CMD_ROTATE, ROTATE], [CMD_REVOKE, REVOKE], [CMD_INDEX, INDEX]] as const) {
      if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: 1, lua })
    }
    this.#redis = redis as Redis & ScriptCommands
  }

  #pipeline(): ScriptPipeline {
    return this.#redis.pipeline() as unknown as ScriptPipeline
  }

  async createSession({ sid, userId, jti, now }: NewSession): Promise<IssuedRefresh> {
    const { refreshTtl, sessionMaxAge, accessTtl } = this.#opts
    const user = packUserId(userId)
    // One round trip (not atomic across the two keys, which may live on different Cluster slots).
    const [created] = throwFirst(
      await this.#pipeline()
        .tokenStoreCreate(sessionKey(sid), user, jti, now ?? '', refreshTtl, sessionMaxAge, accessTtl * 1000)
        .tokenStoreIndex(indexKey(user), sid, now ?? '', '0', INDEX_SLACK_MS, refreshTtl, accessTtl * 1000)
        .exec()
    ) as [[number, number]]
    return { jti, iat: Number(created[0]), exp: Number(created[1]) }
  }

  async rotate({ sid, userId, jti, newJti, now }: Rotation): Promise<RotateResult> {
    const { refreshTtl, accessTtl, reuseInterval } = this.#opts
    // The index bump rides in the same round trip; it raises the score of a member that is still
    // indexed to the latest its record can now expire, so it is harmless when nothing rotated.
    const user = packUserId(userId)
    const at = now ?? ''
    const results = throwFirst(
      await this.#pipeline()
        .tokenStoreRotate(sessionKey(sid), user, jti, newJti, at, refreshTtl, reuseInterval * 1000, accessTtl * 1000)
        .tokenStoreIndex(indexKey(user), sid, at, '1', INDEX_SLACK_MS, refreshTtl, accessTtl * 1000)
        .exec()
    )
    const reply = results[0] as Array<string | number>
    const status = reply[0]
    switch (status) {
      case 'rotated':
      case 'grace':
        return { status, refresh: { jti: String(reply[1]), iat: Number(reply[2]), exp: Number(reply[3]) } }
      case 'reused':
        await this.#redis.zrem(indexKey(user), sid)
        return { status }
      case 'revoked':
      case 'unknown':
        return { status }
      default:
        throw new Error(`token store: unexpected rotate reply ${JSON.stringify(reply)}`)
    }
  }

  async refreshStatus(sid: string, jti: string): Promise<RefreshStatus> {
    const [j, e, x] = await this.#redis.hmget(sessionKey(sid), 'j', 'e', 'x')
    if (x) return 'blacklisted'
    if (!j) return 'unknown'
    if (j !== jti) return 'blacklisted'
    // The record outlives its refresh token by the last access token's lifetime.
    return Number(e) * 1000 > Date.now() ? 'current' : 'unknown'
  }

  async isSessionActive(sid: string): Promise<boolean> {
    return (await this.#redis.hexists(sessionKey(sid), 'u')) === 1
  }

  async revokeSession(sid: string): Promise<boolean> {
    const user = await this.#redis.tokenStoreRevoke(sessionKey(sid))
    if (user === null) return false
    await this.#redis.zrem(indexKey(user), sid)
    return true
  }

  async revokeUserSessions(userId: string): Promise<number> {
    const key = userKey(userId)
    // Every indexed sid, not only those the scores call live: scores come from client clocks.
    const sids = await this.#redis.zrange(key, 0, -1)
    if (sids.length === 0) return 0
    const p = this.#pipeline() as ScriptPipeline & ReturnType<Redis['pipeline']>
    for (const sid of sids) p.tokenStoreRevoke(sessionKey(sid))
    p.zrem(key, ...sids)
    const results = throwFirst(await p.exec())
    return results.slice(0, sids.length).filter((r) => r !== null).length
  }

  async ping(): Promise<void> {
    await this.#redis.ping()
  }

  async close(): Promise<void> {
    // The client belongs to whoever passed it in (the redis plugin closes it).
  }
}

function throwFirst(results: Array<[Error | null, unknown]> | null): unknown[] {
  if (!results) throw new Error('token store: pipeline aborted')
  for (const [err] of results) if (err) throw err
  return results.map(([, r]) => r)
}
