// The token store in this process: the same contract as the Redis store for a single instance
// (no sharing between processes). Every operation runs synchronously inside one call, so each is
// atomic on the event loop. Records expire lazily on access and in an unref'd periodic sweep.
import { firstRefresh } from './types.js'
import type { IssuedRefresh, NewSession, RefreshStatus, Rotation, RotateResult, TokenStore, TokenStoreOptions } from './types.js'

interface LiveSession {
  revoked: false
  userId: string
  jti: string
  iat: number
  exp: number
  /** Hard end of the session, seconds. */
  end: number
  prevJti: string | null
  rotatedAt: number
  /** When the record goes (ms): the later of the refresh token's expiry and the last access token's. */
  expiresAt: number
}
/** Left by a revocation until the session's tokens would have expired. */
interface Tombstone {
  revoked: true
  expiresAt: number
}

export interface MemorySnapshot {
  version: 1
  sessions: Array<[string, LiveSession | Tombstone]>
  users: Array<[string, Array<[string, number]>]>
}

export interface MemoryTokenStoreOptions {
  /** Milliseconds since the epoch; tests inject their own. */
  clock?: () => number
  /** How often expired records are swept, ms (0: never, lazy expiry only). */
  sweepInterval?: number
}

export class MemoryTokenStore implements TokenStore {
  readonly kind = 'memory' as const
  readonly #opts: TokenStoreOptions
  readonly #clock: () => number
  readonly #sessions = new Map<string, LiveSession | Tombstone>()
  /** userId -> (sid -> expiresAt), for logout-all. */
  readonly #users = new Map<string, Map<string, number>>()
  #timer: NodeJS.Timeout | null = null

  constructor(options: TokenStoreOptions, { clock = Date.now, sweepInterval = 60_000 }: MemoryTokenStoreOptions = {}) {
    this.#opts = options
    this.#clock = clock
    if (sweepInterval > 0) {
      this.#timer = setInterval(() => this.sweep(), sweepInterval)
      this.#timer.unref()
    }
  }

  /** Number of records held (sessions + tombstones), for tests and metrics. */
  get size(): number {
    return this.#sessions.size
  }

  /** Drops every expired record; returns how many. */
  sweep(): number {
    const now = this.#clock()
    let dropped = 0
    for (const [sid, s] of this.#sessions) {
      if (s.expiresAt <= now) {
        this.#sessions.delete(sid)
        dropped++
      }
    }
    for (const [userId, sids] of this.#users) {
      for (const [sid, expiresAt] of sids) if (expiresAt <= now) sids.delete(sid)
      if (sids.size === 0) this.#users.delete(userId)
    }
    return dropped
  }

  #get(sid: string): LiveSession | Tombstone | undefined {
    const s = this.#sessions.get(sid)
    if (s && s.expiresAt <= this.#clock()) {
      this.#sessions.delete(sid)
      return undefined
    }
    return s
  }

  #index(userId: string, sid: string, expiresAt: number, now: number): void {
    let sids = this.#users.get(userId)
    if (!sids) this.#users.set(userId, (sids = new Map()))
    for (const [other, at] of sids) if (at <= now) sids.delete(other)
    sids.set(sid, Math.max(expiresAt, sids.get(sid) ?? 0))
  }

  #unindex(userId: string, sid: string): void {
    const sids = this.#users.get(userId)
    if (!sids) return
    sids.delete(sid)
    if (sids.size === 0) this.#users.delete(userId)
  }

  #revoke(sid: string, s: LiveSession): void {
    this.#sessions.set(sid, { revoked: true, expiresAt: s.expiresAt })
    this.#unindex(s.userId, sid)
  }

  async createSession({ sid, userId, jti, now }: NewSession): Promise<IssuedRefresh> {
    const { iat, exp, end, expiresAt } = firstRefresh(this.#opts, jti, now)
    this.#sessions.set(sid, { revoked: false, userId, jti, iat, exp, end, prevJti: null, rotatedAt: 0, expiresAt })
    this.#index(userId, sid, expiresAt, now)
    return { jti, iat, exp }
  }

  async rotate({ sid, userId, jti, newJti, now }: Rotation): Promise<RotateResult> {
    const { refreshTtl, accessTtl, reuseInterval } = this.#opts
    const s = this.#get(sid)
    if (s?.revoked) return { status: 'revoked' }
    if (!s || s.userId !== userId) return { status: 'unknown' }
    const nowS = Math.floor(now / 1000)
    const accessEnd = now + accessTtl * 1000
    if (nowS >= s.end) return { status: 'unknown' }
    if (jti === s.jti) {
      if (nowS >= s.exp) return { status: 'unknown' }
      s.prevJti = jti
      s.rotatedAt = now
      s.jti = newJti
      s.iat = nowS
      s.exp = Math.min(nowS + refreshTtl, s.end)
      s.expiresAt = Math.max(s.exp * 1000, accessEnd)
      this.#index(userId, sid, s.expiresAt, now)
      return { status: 'rotated', refresh: { jti: s.jti, iat: s.iat, exp: s.exp } }
    }
    if (jti === s.prevJti && now - s.rotatedAt < reuseInterval * 1000 && nowS < s.exp) {
      // The grace answer signs a new access token: the session must outlive it.
      s.expiresAt = Math.max(s.exp * 1000, accessEnd)
      this.#index(userId, sid, s.expiresAt, now)
      return { status: 'grace', refresh: { jti: s.jti, iat: s.iat, exp: s.exp } }
    }
    // Any other token of this family: stolen or replayed. Revoke the whole session.
    this.#revoke(sid, s)
    return { status: 'reused' }
  }

  async refreshStatus(sid: string, jti: string): Promise<RefreshStatus> {
    const s = this.#get(sid)
    if (!s) return 'unknown'
    if (s.revoked || s.jti !== jti) return 'blacklisted'
    // The record outlives its refresh token by the last access token's lifetime.
    return s.exp * 1000 > this.#clock() ? 'current' : 'unknown'
  }

  async isSessionActive(sid: string): Promise<boolean> {
    const s = this.#get(sid)
    return s !== undefined && !s.revoked
  }

  async revokeSession(sid: string): Promise<boolean> {
    const s = this.#get(sid)
    if (!s || s.revoked) return false
    this.#revoke(sid, s)
    return true
  }

  async revokeUserSessions(userId: string): Promise<number> {
    const sids = this.#users.get(userId)
    if (!sids) return 0
    let count = 0
    for (const sid of [...sids.keys()]) {
      const s = this.#get(sid)
      if (s && !s.revoked) {
        this.#revoke(sid, s)
        count++
      }
    }
    this.#users.delete(userId)
    return count
  }

  /** The live records, for keeping them across a restart of the embedded mode. */
  snapshot(): MemorySnapshot {
    this.sweep()
    return { version: 1, sessions: [...this.#sessions], users: [...this.#users].map(([u, sids]) => [u, [...sids]]) }
  }

  /** Loads a snapshot taken by snapshot(); expired records are dropped. */
  restore(snapshot: MemorySnapshot): void {
    if (snapshot?.version !== 1 || !Array.isArray(snapshot.sessions) || !Array.isArray(snapshot.users)) return
    for (const [sid, record] of snapshot.sessions) this.#sessions.set(sid, record)
    for (const [userId, sids] of snapshot.users) this.#users.set(userId, new Map(sids))
    this.sweep()
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
  }
}
