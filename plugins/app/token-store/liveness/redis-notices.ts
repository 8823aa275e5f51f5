// Invalidations from Redis: client-side caching in tracking mode (https://redis.io/docs/latest/develop/reference/client-side-caching/),
// broadcasting, redirected to the subscribing connection itself. One dedicated connection per
// server that holds keys (the one Redis, the Sentinel master, each Cluster master) runs
//   CLIENT ID → CLIENT TRACKING on REDIRECT <its id> BCAST PREFIX <p>s: PREFIX <p>csc: → SUBSCRIBE __redis__:invalidate
// and from then on Redis sends it the name of every key under those prefixes that any command,
// script, expiry, eviction or flush modifies. BCAST rather than the default mode: it needs no
// read on a tracked connection and no server memory per key, and its one failure mode is the loss
// of this one connection (in RESP2 a broken redirect is reported to nobody). Redis queues the
// message in the same command execution as the write and writes it out in the same event-loop
// pass as the writer's reply (docs/liveness-cache-research.md).
// ioredis 5 speaks RESP2 only and re-subscribes on its own before 'ready' listeners run, so
// autoResubscribe is off and the three steps are redone on every connection.
import { Cluster, Redis } from 'ioredis'
import calculateSlot from 'cluster-key-slot'
import { duplicateClient, masterOf, type RedisClient } from '../../../external/redis.js'
import { Canary } from './canary.js'
import { livenessKey, type LivenessCache } from './cache.js'
import { sessionOfKey } from '../packing.js'
import type { Notices, NoticesOptions } from './notices.js'

const CHANNEL = '__redis__:invalidate'
/** Canary keys: `csc:{tag}:<id>`, the tag putting the key on the server the channel listens to. */
const CANARY = 'csc:'
const SESSION = 's:'
/** How long a canary key stays (its expiry is one more, ignored, notice). */
const CANARY_PX = 2_000

/** One server's invalidation connection and its canary. */
class ServerChannel {
  readonly canary: Canary
  readonly #sub: Redis
  #closing = false

  constructor (
    sub: Redis,
    private readonly prefix: string,
    private readonly cache: LivenessCache,
    canary: (channel: ServerChannel) => Canary,
    private readonly warn: (err: Error) => void
  ) {
    this.#sub = sub
    this.canary = canary(this)
    sub.on('error', () => {}) // the reading client reports Redis's outages
    sub.on('close', () => this.canary.closed())
    sub.on('ready', () => {
      this.#subscribe().then(
        () => this.canary.opened(),
        (err: Error) => {
          // Tracking refused (an old or restricted Redis): try again on a new connection.
          this.warn(err)
          if (!this.#closing) this.#sub.disconnect(true)
        }
      )
    })
    sub.on('messageBuffer', (channel: Buffer, message: Buffer[] | Buffer | null) => {
      if (channel.toString() === CHANNEL) this.#message(message)
    })
    sub.connect().catch(() => {})
  }

  async #subscribe (): Promise<void> {
    const id = await this.#sub.client('ID')
    const p = this.prefix
    await this.#sub.call('CLIENT', 'TRACKING', 'on', 'REDIRECT', String(id), 'BCAST', 'PREFIX', p + SESSION, 'PREFIX', p + CANARY)
    await this.#sub.subscribe(CHANNEL)
  }

  #message (message: Buffer[] | Buffer | null): void {
    // null: FLUSHALL / FLUSHDB (every key); else the keys that changed.
    if (message === null) {
      this.cache.clear()
      return
    }
    for (const raw of Array.isArray(message) ? message : [message]) {
      const name = raw.toString()
      if (!name.startsWith(this.prefix)) continue
      const key = name.slice(this.prefix.length)
      if (key.startsWith(SESSION)) {
        const session = sessionOfKey(key)
        if (session) this.cache.invalidate(livenessKey(session))
      } else if (key.startsWith(CANARY)) this.canary.received(key.slice(key.indexOf('}:') + 2))
    }
  }

  /** Reconnects (a canary that never comes back: this connection may be on the wrong server). */
  reconnect (): void {
    if (!this.#closing) this.#sub.disconnect(true)
  }

  async close (): Promise<void> {
    this.#closing = true
    this.canary.stop()
    this.#sub.disconnect(false)
  }
}

/** A hash tag whose slot the Cluster's master at `address` holds ('' on a single Redis). */
function tagFor (redis: RedisClient, address: string, previous: string | undefined): string | null {
  if (!(redis instanceof Cluster)) return ''
  if (previous !== undefined && masterOf(redis, `${CANARY}{${previous}}`) === address) return previous
  for (let i = 0; i < 100_000; i++) {
    const tag = String(i)
    if (redis.slots[calculateSlot(tag)]?.[0] === address) return tag
  }
  return null
}

export function redisNotices (redis: RedisClient, cache: LivenessCache, opts: NoticesOptions): Notices {
  const prefix = redis.options.keyPrefix ?? ''
  const channels = new Map<string, ServerChannel>()
  const tags = new Map<string, string>()
  let closed = false

  const update = () => {
    const all = [...channels.values()]
    if (all.length > 0 && all.every((c) => c.canary.confirmed)) cache.enable()
    else cache.disable()
  }
  const open = (address: string, sub: Redis) => {
    const channel = new ServerChannel(
      sub,
      prefix,
      cache,
      (self) =>
        new Canary({
          instance: opts.instance,
          heartbeatMs: opts.heartbeatMs,
          onChange: update,
          onStuck: () => self.reconnect(),
          send: async (id) => {
            const tag = tagFor(redis, address, tags.get(address))
            if (tag === null) throw new Error(`no slot of ${address} known`)
            tags.set(address, tag)
            await redis.set(`${CANARY}{${tag}}:${id}`, '1', 'PX', CANARY_PX)
          }
        }),
      opts.warn
    )
    channels.set(address, channel)
  }
  // Named, so that an operator sees them in CLIENT LIST (flags P: subscribed; one per instance and server).
  const subscriberOptions = { autoResubscribe: false, lazyConnect: true, enableOfflineQueue: false, connectionName: 'auth-liveness' } as const

  const listeners: Array<[string, (...args: unknown[]) => void]> = []
  if (redis instanceof Cluster) {
    // One channel per master, kept in step with the Cluster's masters; any change of them
    // unconfirms every channel (a notice may have gone to a server no channel listened to).
    const sync = () => {
      if (closed) return
      const masters = new Map<string, Redis>(redis.nodes('master').map((n) => [`${n.options.host}:${n.options.port}`, n] as const))
      let changed = false
      for (const [address, channel] of channels) {
        if (masters.has(address)) continue
        channels.delete(address)
        void channel.close()
        changed = true
      }
      for (const [address, node] of masters) {
        if (channels.has(address)) continue
        open(address, new Redis({ ...redis.options.redisOptions, host: node.options.host, port: node.options.port, ...subscriberOptions }))
        changed = true
      }
      if (changed) for (const channel of channels.values()) channel.canary.lost()
      update()
    }
    for (const event of ['+node', '-node', 'refresh', 'ready']) listeners.push([event, sync])
    sync()
  } else {
    open('', duplicateClient(redis, { ...subscriberOptions, keyPrefix: '' }) as Redis)
    // The reading connection dropped: it may come back to another server (a Sentinel failover).
    listeners.push(['close', () => channels.get('')?.canary.lost()])
    listeners.push(['ready', () => channels.get('')?.canary.probe()])
    update()
  }
  const emitter = redis as unknown as NodeJS.EventEmitter
  for (const [event, fn] of listeners) emitter.on(event, fn)

  return {
    // Redis writes the invalidation in the same event-loop pass as the revoking command's reply.
    async fence () {},
    async close () {
      closed = true
      for (const [event, fn] of listeners) emitter.off(event, fn)
      await Promise.all([...channels.values()].map((c) => c.close()))
      channels.clear()
      cache.disable()
    }
  }
}
