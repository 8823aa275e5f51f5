// The store's notices that a session died, as the liveness cache receives them: from Redis
// (redis-notices.ts) or from the database (below). Either keeps the cache enabled only while its
// channel is confirmed by a canary (canary.ts).
import type { DbListen } from '../../../external/prisma/index.js'
import { Canary } from './canary.js'
import { livenessKey, type LivenessCache } from './cache.js'

export interface NoticesOptions {
  /** Names this instance's canaries. */
  instance: string
  heartbeatMs: number
  /** A channel that could not be set up (logged, throttled by the caller). */
  warn: (err: Error) => void
}

export interface Notices {
  /**
   * Resolves once every notice committed before the call has reached this instance (or after a
   * heartbeat, if the channel lags: the canary then unconfirms it). A revocation answered after
   * its fence was delivered to every listener at the same moment as to this one.
   */
  fence(): Promise<void>
  close(): Promise<void>
}

/**
 * The database's channel. Every revocation of a session (the row turning revoked, or a live row
 * deleted) is sent by a trigger in the revoking transaction (prisma/migrations/*_liveness_notices):
 * no revocation commits without its notice, and PostgreSQL signals every listening backend before
 * it answers the COMMIT. Each listening backend then forwards the notice to its client when the
 * operating system runs it, so one instance may read a notice a moment after another (measured:
 * about 1 in 1,600 revocations was still unread by the other instance when the client's next
 * request reached it). So a revocation is answered only after its fence: every other instance has
 * acknowledged a fence request sent after the revocation committed, which (notices being delivered
 * in commit order) it reads only after the revocation's own notice.
 * Payloads: `<sid> <user id>` a revocation (a sid is never one of the marks below);
 * `* <instance>.<n>` a canary (canary.ts; every instance also learns its peers from them);
 * `! <instance> <n>` a fence request; `+ <instance> <n> <peer>` a peer's acknowledgement;
 * `- <instance>` an instance leaving.
 */
export const DB_CHANNEL = 'auth_session_revoked'

/** A peer not heard from for this many heartbeats is no longer waited for. */
const PEER_SILENCE = 3

export function databaseNotices (
  listen: DbListen,
  notify: (payload: string) => Promise<void>,
  cache: LivenessCache,
  opts: NoticesOptions
): Notices {
  const me = opts.instance
  let closed = false
  let stop: (() => Promise<void>) | null = null
  let attempt = 0
  let retry: NodeJS.Timeout | null = null
  let fences = 0
  /** Other instances by the time they were last heard from (ms). */
  const peers = new Map<string, number>()
  /** Fences of this instance waiting for acknowledgements: the peers still to answer. */
  const fencing = new Map<string, { peers: Set<string>; done: () => void }>()
  const canary = new Canary({
    instance: me,
    heartbeatMs: opts.heartbeatMs,
    send: (id) => notify(`* ${id}`),
    onChange: () => (canary.confirmed ? cache.enable() : cache.disable())
  })
  const heard = (peer: string) => {
    if (peer !== me) peers.set(peer, Date.now())
  }
  const onPayload = (payload: string) => {
    const parts = payload.split(' ')
    switch (parts[0]) {
      case '*': {
        const id = parts[1] ?? ''
        heard(id.slice(0, id.indexOf('.')))
        canary.received(id)
        return
      }
      case '!': {
        const [, peer = me, n] = parts
        if (peer === me) return
        heard(peer)
        // Read after every notice committed before it: acknowledged.
        notify(`+ ${peer} ${n} ${me}`).catch(() => {})
        return
      }
      case '+': {
        const [, owner, n = '', peer = ''] = parts
        heard(peer)
        const fence = owner === me ? fencing.get(n) : undefined
        if (fence && fence.peers.delete(peer) && fence.peers.size === 0) fence.done()
        return
      }
      case '-':
        peers.delete(parts[1] ?? '')
        for (const fence of fencing.values()) if (fence.peers.delete(parts[1] ?? '') && fence.peers.size === 0) fence.done()
        return
      default:
        if (parts.length >= 2) cache.invalidate(livenessKey({ userId: payload.slice(parts[0]!.length + 1), sid: parts[0]! }))
    }
  }
  const onLost = () => {
    stop = null
    canary.closed()
    schedule()
  }
  const schedule = () => {
    if (closed || retry) return
    retry = setTimeout(connect, Math.min(++attempt * 100, 2_000))
    retry.unref()
  }
  const connect = () => {
    retry = null
    if (closed) return
    listen(DB_CHANNEL, onPayload, onLost).then(
      async (unlisten) => {
        if (closed) return unlisten()
        stop = unlisten
        attempt = 0
        canary.opened()
      },
      (err: Error) => {
        opts.warn(err)
        schedule()
      }
    )
  }
  connect()
  return {
    async fence () {
      if (!canary.confirmed) return
      const now = Date.now()
      const live = new Set<string>()
      for (const [peer, at] of peers) {
        if (now - at < PEER_SILENCE * opts.heartbeatMs) live.add(peer)
        else peers.delete(peer)
      }
      if (live.size === 0) return
      const n = String(++fences)
      // A peer that does not answer within a heartbeat is lagging: its own canary unconfirms it.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, opts.heartbeatMs)
        timer.unref()
        function done () {
          clearTimeout(timer)
          fencing.delete(n)
          resolve()
        }
        fencing.set(n, { peers: live, done })
        notify(`! ${me} ${n}`).catch(done)
      })
    },
    async close () {
      closed = true
      if (retry) clearTimeout(retry)
      canary.stop()
      cache.disable()
      for (const fence of fencing.values()) fence.done()
      await notify(`- ${me}`).catch(() => {})
      await stop?.()
    }
  }
}
