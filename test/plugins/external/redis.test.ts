// The service's Redis clients write the commands of one event-loop turn in one system call, on
// every connection they open (after a reconnection too, on each Cluster node, on a Sentinel's
// master), while each command keeps its own reply.
import { randomBytes } from 'node:crypto'
import type { Writable } from 'node:stream'
import { Cluster, Redis } from 'ioredis'
import t from 'tap'
import { closeClient, createRedisClient, duplicateClient, readyWithin, type RedisClient } from '../../../plugins/external/redis.js'
import { keysUnder, TEST_REDIS_URL, testRedis, TOPOLOGIES } from '../../support/redis.js'

type Counted = Writable & { _write: (...args: unknown[]) => void; _writev: (...args: unknown[]) => void }

/** Counts the system-call-level writes (Writable's _write and _writev) of every connection the client has now. */
function countWrites (redis: RedisClient): { readonly writes: number } {
  const counter = { writes: 0 }
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis]
  for (const node of nodes) {
    const stream = (node as unknown as { stream?: Counted }).stream
    if (!stream) continue // a master this client has not connected to yet
    for (const method of ['_write', '_writev'] as const) {
      const original = stream[method]
      stream[method] = function (this: Counted, ...args: unknown[]) {
        counter.writes++
        return original.apply(this, args)
      }
    }
  }
  return counter
}

for (const topology of TOPOLOGIES) {
  t.test(`${topology}: one write per loop turn, each command its own reply`, async (t) => {
    const prefix = `test:${randomBytes(6).toString('hex')}:`
    const redis: RedisClient =
      topology === 'single' ? createRedisClient({ kind: 'single', url: TEST_REDIS_URL }, prefix, 5_000) : (await testRedis(prefix, topology)).redis
    t.teardown(async () => {
      for (const key of await keysUnder(redis, prefix)) await redis.del(key)
      await closeClient(redis)
    })
    if (redis.status !== 'ready') await redis.connect()
    // A hash tag: every key in one slot, so on a Cluster every command goes to one master.
    const key = (i: number) => `{coalesce}:${i}`
    await redis.get(key(0)) // every node's connection open

    let counter = countWrites(redis)
    await Promise.all(Array.from({ length: 20 }, (_, i) => redis.set(key(i), `v${i}`)))
    t.equal(counter.writes, 1, '20 commands of one turn: one write')
    t.same(await Promise.all(Array.from({ length: 20 }, (_, i) => redis.get(key(i)))), Array.from({ length: 20 }, (_, i) => `v${i}`), 'each its own reply, in order')

    counter = countWrites(redis)
    for (let i = 0; i < 5; i++) await redis.get(key(i))
    t.equal(counter.writes, 5, 'a command per turn: a write each (nothing waits for a batch)')

    // A failing command in a batch fails alone.
    const results = await Promise.allSettled([redis.set(key(30), 'x'), redis.hget(key(30), 'f'), redis.get(key(30))])
    t.same(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled'], 'a WRONGTYPE in a batch fails only its own command')

    if (topology === 'single' && redis instanceof Redis) {
      // The connection killed: the client's next connection coalesces too.
      const admin = new Redis(TEST_REDIS_URL)
      t.teardown(() => admin.disconnect())
      const id = await redis.client('ID')
      const reconnected = new Promise((resolve) => redis.once('ready', resolve))
      await admin.client('KILL', 'ID', String(id))
      await reconnected
      counter = countWrites(redis)
      await Promise.all(Array.from({ length: 10 }, (_, i) => redis.get(key(i))))
      t.equal(counter.writes, 1, 'after a reconnection: one write per turn still')
    }
  })
}

t.test('a duplicated client coalesces its writes too', async (t) => {
  const prefix = `test:${randomBytes(6).toString('hex')}:`
  const redis = createRedisClient({ kind: 'single', url: TEST_REDIS_URL }, prefix, 5_000)
  const copy = duplicateClient(redis, { commandTimeout: 500 })
  t.teardown(async () => {
    await closeClient(copy)
    await closeClient(redis)
  })
  await copy.connect()
  t.ok(await readyWithin(copy, 5_000))
  const counter = countWrites(copy)
  await Promise.all(Array.from({ length: 10 }, (_, i) => copy.exists(`k${i}`)))
  t.equal(counter.writes, 1)
})
