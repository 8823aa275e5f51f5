// The liveness cache: "this session is alive", remembered for a short while by one instance, so
// that a protected request or a verify needs no round trip to the token store. It holds nothing
// else (no user data that could go stale), is bounded (LRU, LIVENESS_CACHE_SIZE) and every entry
// ends after LIVENESS_CACHE_TTL even if no notice ever comes (a second line of defence).
//
// It is only as good as the store's notices (channels.ts): it answers and fills only while every
// invalidation channel is confirmed. When one drops or lags, the cache is emptied and bypassed
// until the channel is confirmed again. A read that raced an invalidation (or a loss) never fills
// it: each read takes a ticket for its key before asking the store, an invalidation of the key
// takes the ticket back, and the answer is kept only if the ticket is still there and the cache's
// epoch (moved by every loss and every confirmation) has not changed.
import { LRUCache } from 'lru-cache'
import type { SessionRef } from '../types.js'

/** A session's key in the cache: its user, then its sid (so one user's keys share a prefix). */
export const livenessKey = ({ userId, sid }: SessionRef): string => `${userId}\0${sid}`
/** What every key of one user's sessions starts with. */
export const livenessPrefix = (userId: string): string => `${userId}\0`

/** A read in flight: kept only if it is still the key's ticket, in the same epoch. */
interface Ticket {
  key: string
  epoch: number
}

export interface LivenessCacheOptions {
  /** Entries at most (least recently used go first). */
  size: number
  /** Longest an entry answers, ms. */
  ttlMs: number
  /** A clock (ms, monotonic) for tests; default performance.now. */
  now?: () => number
}

/** Counts read by the metrics (collect) and the bench. */
export interface LivenessCounts {
  /** Answered from memory. */
  hits: number
  /** Asked the store while the cache was usable (then filled if alive). */
  misses: number
  /** Asked the store because the cache was bypassed (a channel not confirmed). */
  bypassed: number
  /** Entries dropped by a notice (or by this instance's own revocation). */
  invalidations: number
  /** Times the whole cache was emptied: a channel lost, lagging, or a flush. */
  flushes: number
}

export class LivenessCache {
  readonly #lru: LRUCache<string, true>
  readonly #pending = new Map<string, Ticket>()
  #usable = false
  #epoch = 0
  readonly counts: LivenessCounts = { hits: 0, misses: 0, bypassed: 0, invalidations: 0, flushes: 0 }

  constructor ({ size, ttlMs, now }: LivenessCacheOptions) {
    this.#lru = new LRUCache<string, true>({
      max: size,
      ttl: ttlMs,
      // An entry's age is never renewed by being read: TTL counts from the store's answer.
      updateAgeOnGet: false,
      ...(now ? { perf: { now }, ttlResolution: 0 } : {})
    })
  }

  /** True while every channel is confirmed: the cache answers and fills. */
  get usable (): boolean {
    return this.#usable
  }

  get size (): number {
    return this.#lru.size
  }

  /** Alive per memory (usable, present and within its TTL); counts the hit or the miss. */
  alive (key: string): boolean {
    if (!this.#usable) {
      this.counts.bypassed++
      return false
    }
    if (this.#lru.get(key) === true) {
      this.counts.hits++
      return true
    }
    this.counts.misses++
    return false
  }

  /** Still present (a hit about to be answered checks again, once pending notices are read). */
  has (key: string): boolean {
    return this.#usable && this.#lru.has(key)
  }

  /** Before asking the store: the read's ticket (null when the cache is bypassed). */
  begin (key: string): Ticket | null {
    if (!this.#usable) return null
    const ticket = { key, epoch: this.#epoch }
    this.#pending.set(key, ticket)
    return ticket
  }

  /** The store said "alive": remembered, unless a notice, a loss or another read came in between. */
  fill (ticket: Ticket): void {
    if (this.#pending.get(ticket.key) !== ticket) return
    this.#pending.delete(ticket.key)
    if (this.#usable && ticket.epoch === this.#epoch) this.#lru.set(ticket.key, true)
  }

  /** The read is over (whatever its answer): its ticket goes. */
  end (ticket: Ticket): void {
    if (this.#pending.get(ticket.key) === ticket) this.#pending.delete(ticket.key)
  }

  /** A session's notice (or this instance's own revocation): its entry and any read in flight. */
  invalidate (key: string): void {
    this.#pending.delete(key)
    if (this.#lru.delete(key)) this.counts.invalidations++
  }

  /** Every session whose key starts with `prefix` (one user's: logout-all, password change...). */
  invalidatePrefix (prefix: string): void {
    for (const key of this.#pending.keys()) if (key.startsWith(prefix)) this.#pending.delete(key)
    for (const key of [...this.#lru.keys()]) if (key.startsWith(prefix)) this.invalidate(key)
  }

  /** Everything goes (a flush notice); the cache stays usable. */
  clear (): void {
    this.#epoch++
    this.#pending.clear()
    this.#lru.clear()
    this.counts.flushes++
  }

  /** A channel lost or lagging: emptied, and bypassed until enable(). */
  disable (): void {
    if (!this.#usable && this.#lru.size === 0) {
      this.#epoch++
      return
    }
    this.#usable = false
    this.clear()
  }

  /** Every channel is confirmed: the cache answers and fills again (reads begun before do not fill). */
  enable (): void {
    if (this.#usable) return
    this.#epoch++
    this.#usable = true
  }
}
