// One ioredis client per app (others that need other command options duplicate it), or null when no
// Redis is configured: a single Redis (REDIS_URL), a Cluster (REDIS_CLUSTER_NODES) or a master
// found through Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_NAME). Every key gets
// config.redisKeyPrefix, so several deployments (or test runs) can share one Redis without
// seeing each other's data.
import type { Writable } from 'node:stream'
import calculateSlot from 'cluster-key-slot'
import fp from 'fastify-plugin'
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'
import { throttledWarnings } from './throttled-warnings.js'

/** A Redis server as the settings name it. */
export interface RedisNode {
  host: string
  port: number
}

/** Which Redis to use: a single one (REDIS_URL), a Cluster or a master found through Sentinel. */
export type RedisTarget =
  | { kind: 'single'; url: string }
  | { kind: 'cluster'; nodes: RedisNode[]; username: string | null; password: string | null; tls: boolean }
  | { kind: 'sentinel'; sentinels: RedisNode[]; name: string; username: string | null; password: string | null; tls: boolean }

/** A single Redis (direct or through Sentinel) or a Cluster: the same commands on either. */
export type RedisClient = Redis | Cluster

/** The servers that hold keys: the Cluster's masters, or the one Redis. */
export const masters = (redis: RedisClient): Redis[] => (redis instanceof Cluster ? redis.nodes('master') : [redis])

/**
 * The master a key's commands go to, as `host:port`, on a Cluster (from the client's slot map; ''
 * while it has none); '' on a single Redis. The key as the caller names it (the client adds its
 * keyPrefix, as it does to route the command).
 */
export const masterOf = (redis: RedisClient, key: string): string =>
  redis instanceof Cluster ? (redis.slots[calculateSlot((redis.options.keyPrefix ?? '') + key)]?.[0] ?? '') : ''

/** A master by its address (`host:port`, as masterOf names it): the one Redis for ''; null if no longer a master. */
export function masterAt (redis: RedisClient, address: string): Redis | null {
  if (!(redis instanceof Cluster)) return redis
  return redis.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === address) ?? null
}

/**
 * Every key matching a SCAN pattern, as the server names them, on every master. SCAN's MATCH is
 * not prefixed by ioredis's keyPrefix: the pattern must carry the prefix, and the keys come back
 * with it.
 */
export async function scanKeys (redis: RedisClient, pattern: string, count = 1_000): Promise<string[]> {
  const keys: string[] = []
  for (const node of masters(redis)) {
    let cursor = '0'
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count)
      cursor = next
      keys.push(...batch)
    } while (cursor !== '0')
  }
  return keys
}

declare module 'fastify' {
  interface FastifyInstance {
    redis: RedisClient | null
  }
}

/** What every connection does: fail fast, never hang, reconnect for as long as it takes. */
export function connectionOptions (dependencyMs: number): RedisOptions {
  return {
    // A command waits at most DEPENDENCY_TIMEOUT, none waits for a connection that is down (no
    // offline queue, no retries), and a command whose connection dropped fails instead of being
    // sent again later. The caller answers 503.
    commandTimeout: dependencyMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: Math.max(dependencyMs, 2_000),
    // Reconnect for as long as it takes: the service recovers by itself when Redis returns.
    retryStrategy: (attempt) => Math.min(attempt * 100, 2_000)
  }
}

const COALESCED = Symbol('writes coalesced')
type Socket = Writable & { [COALESCED]?: true }

/**
 * The commands a connection is given during one turn of the event loop leave in one write
 * (writev): the socket is corked at the turn's first write and uncorked once the turn's I/O
 * callbacks have run (setImmediate). Under load, the requests read in one turn each send their
 * commands, and one system call carries them all. Unlike ioredis's enableAutoPipelining, each
 * command is still written, queued and timed on its own: no command waits for another's reply.
 */
function coalesceSocket (socket: Socket): void {
  if (socket[COALESCED]) return
  socket[COALESCED] = true
  let corked = false
  const uncork = () => {
    corked = false
    socket.uncork()
  }
  const write = socket.write
  socket.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    if (!corked) {
      corked = true
      socket.cork()
      setImmediate(uncork)
    }
    return write.apply(this, args)
  } as Socket['write']
}

/** Every connection of the client (each node's, on a Cluster; each reconnection's) coalesces its writes. */
export function coalesceWrites<C extends RedisClient> (redis: C): C {
  const onConnect = (node: Redis) => () => {
    const { stream } = node as unknown as { stream?: Socket }
    if (stream) coalesceSocket(stream)
  }
  if (redis instanceof Cluster) redis.on('+node', (node: Redis) => node.on('connect', onConnect(node)))
  else redis.on('connect', onConnect(redis))
  return redis
}

/** The client for a target, not yet connected (lazyConnect), its writes coalesced. */
export function createRedisClient (target: RedisTarget, keyPrefix: string, dependencyMs: number): RedisClient {
  return coalesceWrites(newClient(target, keyPrefix, dependencyMs))
}

function newClient (target: RedisTarget, keyPrefix: string, dependencyMs: number): RedisClient {
  const base: RedisOptions = { ...connectionOptions(dependencyMs), keyPrefix, lazyConnect: true }
  switch (target.kind) {
    case 'single':
      return new Redis(target.url, base)
    case 'sentinel':
      return new Redis({
        ...base,
        sentinels: target.sentinels,
        name: target.name,
        role: 'master',
        ...(target.username ? { username: target.username, sentinelUsername: target.username } : {}),
        ...(target.password ? { password: target.password, sentinelPassword: target.password } : {}),
        ...(target.tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
        // Sentinels tell of a new master as soon as they elect it (+switch-master), instead of the
        // client finding out when its connection to the old one drops.
        failoverDetector: true,
        sentinelRetryStrategy: (attempt) => Math.min(attempt * 100, 2_000)
      })
    case 'cluster': {
      const { keyPrefix: _prefix, lazyConnect: _lazy, ...node } = base
      const options: ClusterOptions = {
        keyPrefix,
        lazyConnect: true,
        enableOfflineQueue: false,
        // Every command to the slot's master: a replica may not have the last rotation yet.
        scaleReads: 'master',
        // A command the Cluster refuses (CLUSTERDOWN) fails at once (a 503) instead of being sent
        // again after a delay, which ioredis does even once the caller's command timed out: a
        // rotation re-sent after its 503, and after the client's retry and next rotations, would
        // look like reuse and revoke the session. MOVED, ASK and TRYAGAIN (the command did not
        // run) go to the right node at once, while the caller still waits. A node whose
        // connection is not open yet is tried again after 100 ms (needed: without an offline
        // queue, the first command to a node finds its connection still opening).
        maxRedirections: 6,
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 0,
        retryDelayOnTryAgain: 0,
        clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
        slotsRefreshTimeout: Math.max(dependencyMs, 1_000),
        redisOptions: {
          ...node,
          ...(target.username ? { username: target.username } : {}),
          ...(target.password ? { password: target.password } : {}),
          ...(target.tls ? { tls: {} } : {})
        }
      }
      return new Cluster(target.nodes, options)
    }
  }
}

/** A second client to the same Redis with other command options (its own connections). */
export function duplicateClient (redis: RedisClient, overrides: Partial<RedisOptions>): RedisClient {
  if (redis instanceof Cluster) return coalesceWrites(redis.duplicate(undefined, { redisOptions: { ...redis.options.redisOptions, ...overrides } }))
  return coalesceWrites(redis.duplicate(overrides))
}

/**
 * Closes a client for good: QUIT (what was sent is answered first), then disconnect, which also
 * closes what QUIT leaves open: a Sentinel client's connections to the sentinels (failover
 * detection) would otherwise keep reconnecting, and keep the process alive.
 */
export async function closeClient (redis: RedisClient): Promise<void> {
  await redis.quit().catch(() => {})
  redis.disconnect()
}

/** Resolves when the client is ready, or after `ms` (the caller goes on either way). */
export function readyWithin (redis: RedisClient, ms: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true)
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer)
      redis.off('ready', onReady)
      resolve(ok)
    }
    const onReady = () => done(true)
    const timer = setTimeout(() => done(false), ms)
    redis.on('ready', onReady)
  })
}

export default fp(
  async (fastify) => {
    const { redis: target, redisKeyPrefix, timeouts } = fastify.config
    if (!target) {
      fastify.decorate('redis', null)
      return
    }
    const warn = throttledWarnings(fastify.log)
    const redis = createRedisClient(target, redisKeyPrefix, timeouts.dependency)
    fastify.log.info({ redis: target.kind }, 'redis')
    redis.on('error', (err: Error) => warn(`redis:${err.message}`, { err: { message: err.message } }, 'redis error'))
    // A Cluster reports each node's connection errors apart (with the node's address).
    redis.on('node error', (err: Error, node: string) => warn(`redis:${node}:${err.message}`, { node, err: { message: err.message } }, 'redis node error'))
    // Not awaited as such: a Redis that is down at boot leaves the service up but not ready
    // (/health/ready), and the client keeps reconnecting.
    redis.connect().catch(() => {})
    await readyWithin(redis, Math.max(timeouts.dependency, 2_000))
    fastify.decorate<RedisClient>('redis', redis)
    fastify.addHook('onClose', async () => {
      await closeClient(redis)
    })
  },
  { name: 'redis', dependencies: ['config'] }
)
