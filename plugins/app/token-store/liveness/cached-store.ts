// The token store with the liveness cache in front of isSessionActive (the check of every
// protected request and of /api/token/verify/). Everything else goes to the store unchanged.
// Revocations made through this instance drop their entries here before they answer, whatever
// the order in which the store's own notice arrives; every other instance hears of them from the
// store (notices.ts, redis-notices.ts).
import type { NewSession, Rotation, RotateResult, SessionRef, TokenStore } from '../types.js'
import { livenessKey as sessionKey, livenessPrefix, type LivenessCache } from './cache.js'
import type { Notices } from './notices.js'

interface Deferred {
  key: string
  ref: SessionRef
  resolve: (alive: boolean | Promise<boolean>) => void
}

export class LivenessCachedStore implements TokenStore {
  readonly kind: TokenStore['kind']
  readonly #store: TokenStore
  readonly #cache: LivenessCache
  readonly #notices: Notices
  #deferred: Deferred[] = []

  /** The store behind the cache (guarded: its outages are 503s); tests replace its methods to fail it. */
  get behind (): TokenStore {
    return this.#store
  }

  /** The cache itself; tests time its invalidations. */
  get cache (): LivenessCache {
    return this.#cache
  }

  constructor (store: TokenStore, cache: LivenessCache, notices: Notices) {
    this.kind = store.kind
    this.#store = store
    this.#cache = cache
    this.#notices = notices
  }

  /**
   * A hit is answered once the I/O that is already readable has been read (setImmediate runs
   * after the event loop's poll phase): a notice that reached this process together with the
   * request, or before it, is applied first, whatever order the sockets were read in. All hits of
   * one loop turn share one setImmediate.
   */
  isSessionActive (ref: SessionRef): Promise<boolean> {
    const key = sessionKey(ref)
    if (!this.#cache.alive(key)) return this.#read(ref, key)
    return new Promise((resolve) => {
      if (this.#deferred.push({ key, ref, resolve }) === 1) setImmediate(this.#answer)
    })
  }

  readonly #answer = () => {
    const batch = this.#deferred
    this.#deferred = []
    for (const { key, ref, resolve } of batch) resolve(this.#cache.has(key) ? true : this.#read(ref, key))
  }

  async #read (ref: SessionRef, key: string): Promise<boolean> {
    const ticket = this.#cache.begin(key)
    if (ticket === null) return this.#store.isSessionActive(ref)
    try {
      const alive = await this.#store.isSessionActive(ref)
      if (alive) this.#cache.fill(ticket)
      return alive
    } finally {
      this.#cache.end(ticket)
    }
  }

  // A revocation is answered once its entries here are gone and its notice has reached the other
  // instances as surely as it reached this one (Notices.fence).
  async revokeSession (s: SessionRef): Promise<boolean> {
    try {
      return await this.#store.revokeSession(s)
    } finally {
      // Also after a failure: the revocation may have been made.
      this.#cache.invalidate(sessionKey(s))
      await this.#notices.fence()
    }
  }

  async revokeUserSessions (userId: string, exceptSid?: string): Promise<number> {
    try {
      return await this.#store.revokeUserSessions(userId, exceptSid)
    } finally {
      this.#cache.invalidatePrefix(livenessPrefix(userId))
      await this.#notices.fence()
    }
  }

  async rotate (r: Rotation): Promise<RotateResult> {
    let result: RotateResult | null = null
    try {
      result = await this.#store.rotate(r)
      return result
    } finally {
      // Reuse revokes the session (and a failed rotation may have been reuse). A session already
      // revoked was dropped, and told, when it was revoked: a replayed token costs no fence.
      if (result === null || result.status === 'reused') {
        this.#cache.invalidate(sessionKey(r))
        await this.#notices.fence()
      }
    }
  }

  createSession (s: NewSession) {
    return this.#store.createSession(s)
  }

  refreshStatus (s: SessionRef, jti: string) {
    return this.#store.refreshStatus(s, jti)
  }

  listSessions (userId: string, now?: number) {
    return this.#store.listSessions(userId, now)
  }

  putTicket (key: string, value: string, ttl: number, maxTries: number) {
    return this.#store.putTicket(key, value, ttl, maxTries)
  }

  rememberDevice (userId: string, device: string, now?: number) {
    return this.#store.rememberDevice(userId, device, now)
  }

  forgetDevices (userId: string) {
    return this.#store.forgetDevices(userId)
  }

  getTicket (key: string) {
    return this.#store.getTicket(key)
  }

  takeTicket (key: string) {
    return this.#store.takeTicket(key)
  }

  failTicket (key: string) {
    return this.#store.failTicket(key)
  }

  ping () {
    return this.#store.ping()
  }

  async close () {
    await this.#notices.close()
    await this.#store.close()
  }
}
