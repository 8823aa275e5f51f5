// How many replicas a token-store write waits for (WAIT). REDIS_WAIT_REPLICAS is the number a
// healthy master has. WAIT exists so that a failover cannot lose an answered write: the replica it
// promotes must have it. A master with fewer replicas online than that (just promoted by a
// failover, before the Sentinel turns the old master into its replica; or whose replica is dead)
// has nothing a failover could promote without its writes: a replica that attaches later copies
// everything first. Waiting there for a replica that does not exist would refuse every write,
// for seconds after each failover and for good when the old master is gone. So a write waits for
// min(REDIS_WAIT_REPLICAS, the replicas online), as the master's INFO counts them: a replica that
// is online but does not acknowledge (lagging, cut off) is still waited for, and the write is a 503.
//
// Nothing is asked while every master is healthy: the count is taken when a WAIT falls short,
// and then once a second until the master has its replicas again (a failover or a replica
// joining is seen within that second).
import { masterAt, masterOf, type RedisClient } from '../../external/redis.js'

/** Replicas INFO replication lists as online (`slaveN:...,state=online,...`). */
export function onlineReplicas (info: string): number {
  return info.match(/^slave\d+:.*\bstate=online\b/gm)?.length ?? 0
}

/** The replicas online under the master that serves `route` (see ReplicaTargets.route); null: no such master now. */
export type ReplicaProbe = (route: string) => Promise<number | null>

/** INFO replication of the master: the one Redis (or the Sentinel's master), or a Cluster's master by address. */
export function infoProbe (redis: RedisClient): ReplicaProbe {
  return async (route) => {
    const node = masterAt(redis, route)
    if (!node) return null
    return onlineReplicas(await node.info('replication'))
  }
}

const RECHECK_MS = 1_000

export class ReplicaTargets {
  readonly #wanted: number
  readonly #redis: RedisClient
  readonly #probe: ReplicaProbe
  /** Masters with fewer replicas online than wanted: route -> how many they have. */
  readonly #short = new Map<string, number>()
  #timer: NodeJS.Timeout | null = null

  constructor (wanted: number, redis: RedisClient, probe: ReplicaProbe = infoProbe(redis)) {
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

  /**
   * After a WAIT that fell short: does `acked` cover every replica the master has (up to the
   * number wanted)? Counts the master's replicas now; a master short of them is remembered (and
   * counted again each second) so that the next writes do not wait for replicas it lacks.
   */
  async covers (route: string, acked: number): Promise<boolean> {
    const online = await this.#count(route)
    return online !== null && acked >= Math.min(this.#wanted, online)
  }

  close (): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = null
  }

  async #count (route: string): Promise<number | null> {
    const online = await this.#probe(route)
    // A Cluster master that is no longer one (failed over): its slots have another route now.
    if (online === null || online >= this.#wanted) this.#short.delete(route)
    else this.#short.set(route, online)
    if (this.#short.size > 0 && !this.#timer) {
      this.#timer = setInterval(() => this.#recheck(), RECHECK_MS)
      this.#timer.unref()
    } else if (this.#short.size === 0) {
      this.close()
    }
    return online
  }

  #recheck (): void {
    for (const route of this.#short.keys()) {
      // A master that cannot be asked keeps its last count until it can.
      this.#count(route).catch(() => {})
    }
  }
}
