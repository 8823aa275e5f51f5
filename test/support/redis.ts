// A Redis client for one test file: a key prefix of its own (random per run), so test files can
// run in parallel on one Redis, and a cleanup that deletes exactly that prefix's keys.
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { scanKeys } from '../../plugins/external/redis.js'

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

export interface TestRedis {
  redis: Redis
  /** The client's keyPrefix, e.g. "test:1a2b3c4d5e6f:". */
  prefix: string
  /** Deletes every key under the prefix and closes the client. */
  cleanup(): Promise<void>
}

/** Every key (without the prefix) under a prefix. */
export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  return (await scanKeys(redis, `${prefix}*`)).map((k) => k.slice(prefix.length))
}

export async function testRedis(prefix = `test:${randomBytes(6).toString('hex')}:`): Promise<TestRedis> {
  const redis = new Redis(TEST_REDIS_URL, { keyPrefix: prefix, lazyConnect: true, maxRetriesPerRequest: 2 })
  await redis.connect()
  return {
    redis,
    prefix,
    async cleanup() {
      const keys = await keysUnder(redis, prefix)
      for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500))
      await redis.quit().catch(() => redis.disconnect())
    }
  }
}
