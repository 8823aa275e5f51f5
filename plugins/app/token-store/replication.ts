// How many replicas a token-store write waits for (WAIT). REDIS_WAIT_REPLICAS is the number a
// healthy master has. WAIT exists so that a failover cannot lose an answered write: the replica it
// promotes must have it.
//
// A master just promoted by a failover has no replica until the Sentinel turns the old master
// into one (about 10 s later), or at all while the old master is dead. Nothing could be promoted
// in its place without its writes (a replica that attaches later copies everything first), and
// waiting for a replica that does not exist would refuse every write: so such a master's writes
// wait for the replicas it has online (none), and it is taken at its word.
//
// A master that HAD more replicas online than it has now is not: it may be the old master that a
// failover is replacing (its replica was just promoted and the Sentinel will demote it, dropping
// what it took), or cut off from replicas that a Sentinel may promote. Its writes keep waiting,
// and are 503s until its replicas are back or clients have moved to the new master. The two are
// told apart by the master's replication ID, which a promotion changes: the most replicas seen
// online under each ID are remembered (read when a write connection becomes ready, and whenever
// the replicas are counted).
//
// Nothing is asked while every WAIT succeeds: the replicas are counted when one falls short, and
// then once a second while a master is short, so writes wait again within a second of a replica's
// return.
import { masterAt, masterOf, masters, type RedisClient } from '../../external/redis.js'

/** What INFO replication says of a server. */
export interface ReplicationInfo {
  role: string
  /** Its replication ID (a promotion gives a master a new one). */
  replid: string
  /** Replicas listed as online (`slaveN:...,state=online,...`), lagging or not. */
  online: number
}

export function replicationInfo (info: string): ReplicationInfo {
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? ''
  return { role: field('role'), replid: field('master_replid'), online: info.match(/^slave\d+:.*\bstate=online\b/gm)?.length ?? 0 }
}

/** INFO replication of the master that serves `route` through `client` (see ReplicaTargets.route); null: no such master now. */
export type ReplicaProbe = (client: RedisClient, route: string) => Promise<ReplicationInfo | null>

export const infoProbe: ReplicaProbe = async (client, route) => {
  const node = masterAt(client, route)
  return node ? replicationInfo(await node.info('replication')) : null
}

const RECHECK_MS = 1_000

export class ReplicaTargets {
  readonly #wanted: number
  readonly #redis: RedisClient
  readonly #probe: ReplicaProbe
  /** Masters taking writes with fewer replicas than wanted: route -> how many they have. */
  readonly #short = new Map<string, number>()
  /** The most replicas seen online under each replication ID. */
  readonly #seen = new Map<string, number>()
  #timer: NodeJS.Timeout | null = null

  /** `redis`: the main client (routes, and the counts taken each second while a master is short). */
  constructor (wanted: number, redis: RedisClient, probe: ReplicaProbe = infoProbe) {
    this.#wanted = wanted
    this.#redis = redis
    this.#probe = probe
  }

  /** Which master a key's writes go to: its slot's master on a Cluster (by address), else ''. */
  route (key: string): string {
    return masterOf(this.#redis, key)
  }

  /** How many replicas a write to that master waits for now. */
  target (route: string): number {
    return this.#short.get(route) ?? this.#wanted
  }

  /** Reads what `client`'s masters have now (a write connection that became ready). */
  async observe (client: RedisClient): Promise<void> {
    await Promise.all(
      masters(client).map(async (node) => {
        const info = await this.#probe(node, '')
        if (info) this.#remember(info)
      })
    )
  }

  /**
   * After a WAIT through `client` that fell short: does `acked` cover what this master must have?
   * Every replica it has online, up to the number wanted, on a master that never had more under
   * its replication ID; the number wanted on one that did. A master short of replicas is
   * remembered (and counted again each second), so that the next writes do not wait for replicas
   * it lacks.
   */
  async covers (client: RedisClient, route: string, acked: number): Promise<boolean> {
    const info = await this.#count(client, route)
    if (!info || info.role !== 'master') return false
    const had = this.#seen.get(info.replid) ?? 0
    return acked >= Math.min(this.#wanted, Math.max(info.online, had))
  }

  close (): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
  }

  #remember (info: ReplicationInfo): void {
    if (info.role === 'master' && info.online > (this.#seen.get(info.replid) ?? 0)) this.#seen.set(info.replid, info.online)
  }

  async #count (client: RedisClient, route: string): Promise<ReplicationInfo | null> {
    const info = await this.#probe(client, route)
    if (info) this.#remember(info)
    const had = info ? (this.#seen.get(info.replid) ?? 0) : 0
    // Short: a master (a new one) that takes writes with fewer replicas than wanted. Not one that
    // lost replicas it had (its writes still wait), nor a Cluster master that is one no longer.
    if (info && info.role === 'master' && info.online < this.#wanted && had <= info.online) this.#short.set(route, info.online)
    else this.#short.delete(route)
    if (this.#short.size > 0 && !this.#timer) {
      this.#timer = setInterval(() => this.#recheck(), RECHECK_MS)
      this.#timer.unref()
    } else if (this.#short.size === 0) {
      this.close()
    }
    return info
  }

  #recheck (): void {
    for (const route of this.#short.keys()) {
      // A master that cannot be asked keeps its last count until it can.
      this.#count(this.#redis, route).catch(() => {})
    }
  }
}

/** A write that reached the master but not the replicas it must reach: answered as an outage (503). */
export class NotReplicatedError extends Error {
  override name = 'NotReplicatedError'
}

export interface Replication {
  /**
   * Writes are acknowledged only once this many replicas have them (WAIT), or every replica the
   * master has online when it has fewer (replication.ts); 0: the master's word.
   */
  replicas: number
  /** How long WAIT may take, ms (below the command timeout, so the answer is a 503, not a timeout). */
  timeoutMs: number
  /**
   * Connections for the writes that wait (owned by the caller; none: the main one). WAIT holds its
   * connection until the replicas answer: writes are spread over these, so they wait side by
   * side, and reads (every protected request) never queue behind a WAIT. Each user's writes
   * always take the same one, so they reach Redis in the order they were made: a write that timed
   * out (a 503) but is still on its way can never run after the client's later rotations on
   * another connection and look like reuse.
   */
  writers?: RedisClient[]
  /** How a master's replication is read (tests); default: its INFO replication. */
  probe?: ReplicaProbe
}

/** The writer of a user's writes: FNV-1a of the user id, over `n` connections. */
export function writerOf (userId: string, n: number): number {
  if (n <= 1) return 0
  let h = 0x811c9dc5
  for (let i = 0; i < userId.length; i++) h = Math.imul(h ^ userId.charCodeAt(i), 0x01000193)
  return (h >>> 0) % n
}
