// Redis memory per live session. Sessions are created directly through the token store module
// (plugins/app/token-store, the service's own code: same key layout, same scripts, same TTLs) under a
// prefix of their own, because 100,000 logins would take hours of bcrypt. Each session belongs to
// its own user (the worst case: every session pays for a user index of its own), then each
// session is rotated once so it holds the fields a session in use has (previous jti, rotation
// time), and each carries the login's IP and a realistic 120-character user agent (agent.ts) as
// the sessions list needs them. MEMORY USAGE (all samples) is summed over every key, and every key must have a TTL.
import { randomUUID, randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { scanKeys } from '../plugins/external/redis.js'
import { RedisTokenStore, type TokenStoreOptions } from '../plugins/app/token-store/index.js'
import { CLIENT_IP, USER_AGENT } from './agent.js'

export interface MemoryResult {
  sessions: number
  /** MEMORY USAGE summed over the session hashes / sessions, fresh and after one rotation. */
  sessionHashBytes: { fresh: number; rotated: number }
  /** The per-user index (ZSET) / sessions, one user per session. */
  userIndexBytes: number
  /** Session hash (rotated) + user index, per session: the figure the target is about. */
  bytesPerSession: number
  /** INFO used_memory growth / sessions: includes Redis's keyspace and expiry dictionaries. */
  usedMemoryPerSession: number
  keys: number
  keysWithoutTtl: number
  target: number
  pass: boolean
}

/** Bytes per live session (hash + index share), with a 120-character user agent stored in each. */
export const MEMORY_TARGET = 512

const id = () => randomBytes(16).toString('base64url')
const BATCH = 2_000

/** Deletes every key under prefix (with the prefix in the pattern: a client without keyPrefix). */
export async function deletePrefix (redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl, { lazyConnect: true })
  await redis.connect()
  try {
    const keys = await scanKeys(redis, `${prefix}*`, 5_000)
    for (let i = 0; i < keys.length; i += 1_000) await redis.unlink(...keys.slice(i, i + 1_000))
    return keys.length
  } finally {
    redis.disconnect()
  }
}

async function usedMemory (redis: Redis): Promise<number> {
  const info = await redis.info('memory')
  return Number(/used_memory:(\d+)/.exec(info)![1])
}

async function memoryUsage (redis: Redis, keys: string[]): Promise<number> {
  let total = 0
  for (let i = 0; i < keys.length; i += BATCH) {
    const p = redis.pipeline()
    for (const key of keys.slice(i, i + BATCH)) p.memory('USAGE', key, 'SAMPLES', '0')
    for (const [err, bytes] of (await p.exec())!) {
      if (err) throw err
      total += Number(bytes)
    }
  }
  return total
}

export async function measureMemory (redisUrl: string, prefix: string, options: TokenStoreOptions, sessions: number): Promise<MemoryResult> {
  await deletePrefix(redisUrl, prefix)
  // keyPrefix as the service's client has it; `raw` (no prefix) reads the keys back by full name.
  const redis = new Redis(redisUrl, { keyPrefix: prefix })
  const raw = new Redis(redisUrl)
  try {
    const store = new RedisTokenStore(redis, options)
    const before = await usedMemory(raw)
    const live: Array<{ sid: string; userId: string; jti: string }> = []
    for (let i = 0; i < sessions; i += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, sessions - i) }, () => ({ sid: id(), userId: randomUUID(), jti: id() }))
      await Promise.all(batch.map((s) => store.createSession({ ...s, now: Date.now(), ip: CLIENT_IP, userAgent: USER_AGENT })))
      live.push(...batch)
    }
    const sessionKeys = () => scanKeys(raw, `${prefix}s:*`, 5_000)
    const fresh = await memoryUsage(raw, await sessionKeys())
    for (let i = 0; i < live.length; i += BATCH) {
      await Promise.all(
        live.slice(i, i + BATCH).map(async (s) => {
          const r = await store.rotate({ ...s, newJti: id(), now: Date.now() })
          if (r.status !== 'rotated') throw new Error(`memory: rotation answered ${r.status}`)
        })
      )
    }
    const after = await usedMemory(raw)
    const sKeys = await sessionKeys()
    const uKeys = await scanKeys(raw, `${prefix}u:*`, 5_000)
    const rotated = await memoryUsage(raw, sKeys)
    const index = await memoryUsage(raw, uKeys)

    const all = [...sKeys, ...uKeys]
    let withoutTtl = 0
    for (let i = 0; i < all.length; i += BATCH) {
      const p = raw.pipeline()
      for (const key of all.slice(i, i + BATCH)) p.pttl(key)
      for (const [err, ttl] of (await p.exec())!) {
        if (err) throw err
        if (Number(ttl) < 0) withoutTtl++
      }
    }
    const perSession = (rotated + index) / sessions
    return {
      sessions,
      sessionHashBytes: { fresh: fresh / sessions, rotated: rotated / sessions },
      userIndexBytes: index / sessions,
      bytesPerSession: perSession,
      usedMemoryPerSession: (after - before) / sessions,
      keys: all.length,
      keysWithoutTtl: withoutTtl,
      target: MEMORY_TARGET,
      pass: perSession < MEMORY_TARGET && withoutTtl === 0 && sKeys.length === sessions
    }
  } finally {
    redis.disconnect()
    raw.disconnect()
    await deletePrefix(redisUrl, prefix)
  }
}
