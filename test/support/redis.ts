// A Redis client for one test file: a key prefix of its own (random per run), so test files can
// run in parallel on one Redis, and a cleanup that deletes exactly that prefix's keys. On the
// shared single Redis by default, or on the run's Cluster or Sentinel (topologies.ts).
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { closeClient, createRedisClient, scanKeys, type RedisClient } from '../../plugins/external/redis.js'
import { readTopologies } from './topologies.js'

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

export type Topology = 'single' | 'cluster' | 'sentinel'

/** The settings that point the service at a topology (REDIS_URL, or the Cluster's or Sentinel's). */
export function redisEnv (topology: Topology): Record<string, string> {
  if (topology === 'single') return { REDIS_URL: TEST_REDIS_URL }
  const topologies = readTopologies()
  if (!topologies) throw new Error(`no Redis ${topology} in this run (tap starts them: test/support/topologies-before.ts)`)
  return topology === 'cluster'
    ? { REDIS_CLUSTER_NODES: topologies.cluster.seeds }
    : { REDIS_SENTINELS: topologies.sentinel.sentinels, REDIS_SENTINEL_NAME: topologies.sentinel.name }
}

/** The topologies this run has: the single Redis always, the Cluster and Sentinel under tap. */
export const TOPOLOGIES: Topology[] = ['single', ...(readTopologies() ? (['cluster', 'sentinel'] as const) : [])]

export interface TestRedis {
  redis: RedisClient
  /** The client's keyPrefix, e.g. "test:1a2b3c4d5e6f:". */
  prefix: string
  topology: Topology
  /** Deletes every key under the prefix and closes the client. */
  cleanup(): Promise<void>
}

/** Every key (without the prefix) under a prefix, on every master. */
export async function keysUnder (redis: RedisClient, prefix: string): Promise<string[]> {
  return (await scanKeys(redis, `${prefix}*`)).map((k) => k.slice(prefix.length))
}

export async function testRedis (prefix = `test:${randomBytes(6).toString('hex')}:`, topology: Topology = 'single'): Promise<TestRedis> {
  const redis =
    topology === 'single'
      ? new Redis(TEST_REDIS_URL, { keyPrefix: prefix, lazyConnect: true, maxRetriesPerRequest: 2 })
      : createRedisClient(
        topology === 'cluster'
          ? { kind: 'cluster', nodes: seeds(redisEnv('cluster').REDIS_CLUSTER_NODES!), username: null, password: null, tls: false }
          : { kind: 'sentinel', sentinels: seeds(redisEnv('sentinel').REDIS_SENTINELS!), name: redisEnv('sentinel').REDIS_SENTINEL_NAME!, username: null, password: null, tls: false },
        prefix,
        5_000
      )
  await redis.connect()
  return {
    redis,
    prefix,
    topology,
    async cleanup () {
      const keys = await keysUnder(redis, prefix)
      // One key per DEL: a Cluster refuses a DEL whose keys are in different slots.
      for (let i = 0; i < keys.length; i += 500) await Promise.all(keys.slice(i, i + 500).map((k) => redis.del(k)))
      await closeClient(redis)
    }
  }
}

const seeds = (list: string) =>
  list.split(',').map((s) => {
    const [host, port] = s.split(':')
    return { host: host!, port: Number(port) }
  })
