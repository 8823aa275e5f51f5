// The liveness cache on its own: bounded under churn, entries ending with their TTL, a read that
// raced an invalidation or a loss never filling it, and the canary that confirms a channel.
import t from 'tap'
import { LivenessCache, livenessKey, livenessPrefix } from '../../../../plugins/app/token-store/liveness/cache.js'
import { sessionKey, sessionOfKey } from '../../../../plugins/app/token-store/packing.js'
import { Canary } from '../../../../plugins/app/token-store/liveness/canary.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A usable cache with a clock of the test's own. */
function cache (size = 100, ttlMs = 5_000) {
  const clock = { at: 1_000 }
  const c = new LivenessCache({ size, ttlMs, now: () => clock.at })
  c.enable()
  return { c, clock }
}

/** Reads `key` as the store answering "alive" would, filling the cache. */
const fill = (c: LivenessCache, key: string) => {
  const ticket = c.begin(key)
  if (ticket) c.fill(ticket)
}

t.test('a cache full of sessions under churn stays within its bound; the least recently used go first', async (t) => {
  const { c } = cache(1_000)
  let largest = 0
  for (let i = 0; i < 50_000; i++) {
    fill(c, `s:{u${i % 5_000}}:${i}`)
    if (i % 7 === 0) c.alive(`s:{u${(i - 3) % 5_000}}:${i - 3}`)
    if (i % 3 === 0) c.invalidate(`s:{u${(i - 11) % 5_000}}:${i - 11}`)
    largest = Math.max(largest, c.size)
  }
  t.equal(largest, 1_000, 'never above the bound')
  t.equal(c.size, 1_000)
  t.ok(c.alive('s:{u4999}:49999'), 'the newest is there')
  t.notOk(c.alive('s:{u0}:0'), 'the oldest is gone')
  // Recently read survives newer fills, unread does not.
  const small = cache(3).c
  for (const k of ['a', 'b', 'c']) fill(small, k)
  small.alive('a')
  fill(small, 'd')
  t.same(['a', 'b', 'c', 'd'].map((k) => small.has(k)), [true, false, true, true])
})

t.test('an entry answers for its TTL only, even if no notice ever comes', async (t) => {
  const { c, clock } = cache(100, 5_000)
  fill(c, 'k')
  clock.at += 4_999
  t.ok(c.alive('k'))
  clock.at += 2
  t.notOk(c.alive('k'), 'expired')
  t.notOk(c.has('k'))
  // Reading does not renew it.
  fill(c, 'k')
  for (let i = 0; i < 5; i++) {
    clock.at += 1_000
    c.alive('k')
  }
  clock.at += 1
  t.notOk(c.alive('k'))
})

t.test('hits, misses and bypasses are counted', async (t) => {
  const c = new LivenessCache({ size: 10, ttlMs: 1_000 })
  t.notOk(c.alive('k'))
  t.equal(c.counts.bypassed, 1, 'not confirmed yet: bypassed')
  t.equal(c.begin('k'), null, 'nothing is filled while bypassed')
  c.enable()
  t.notOk(c.alive('k'))
  fill(c, 'k')
  t.ok(c.alive('k'))
  t.ok(c.alive('k'))
  t.same(c.counts, { hits: 2, misses: 1, bypassed: 1, invalidations: 0, flushes: 0 })
})

t.test('a read that raced an invalidation, a loss or a flush does not fill', async (t) => {
  const { c } = cache()
  // The notice came while the store was being asked: the answer may predate the revocation.
  let ticket = c.begin('k')!
  c.invalidate('k')
  c.fill(ticket)
  t.notOk(c.has('k'), 'invalidated during the read')
  ticket = c.begin('k')!
  c.disable()
  c.enable()
  c.fill(ticket)
  t.notOk(c.has('k'), 'channel lost and back during the read')
  ticket = c.begin('k')!
  c.clear()
  c.fill(ticket)
  t.notOk(c.has('k'), 'flushed during the read')
  ticket = c.begin('s:{u1}:a')!
  c.invalidatePrefix('s:{u1}:')
  c.fill(ticket)
  t.notOk(c.has('s:{u1}:a'), "the user's sessions revoked during the read")
  // Two reads of one key: only the later one fills.
  const first = c.begin('k')!
  const second = c.begin('k')!
  c.fill(first)
  t.notOk(c.has('k'))
  c.fill(second)
  t.ok(c.has('k'))
  // Undisturbed: filled; ended without filling: the ticket is gone.
  ticket = c.begin('j')!
  c.end(ticket)
  c.fill(ticket)
  t.notOk(c.has('j'))
})

t.test('losing the channel empties the cache and bypasses it; invalidations by key and by user', async (t) => {
  const { c } = cache()
  for (const k of ['s:{u1}:a', 's:{u1}:b', 's:{u2}:a']) fill(c, k)
  c.invalidatePrefix('s:{u1}:')
  t.same([c.has('s:{u1}:a'), c.has('s:{u1}:b'), c.has('s:{u2}:a')], [false, false, true])
  c.invalidate('s:{u2}:a')
  t.equal(c.counts.invalidations, 3)
  fill(c, 'x')
  c.disable()
  t.equal(c.size, 0)
  t.notOk(c.usable)
  t.notOk(c.alive('x'))
  c.enable()
  t.notOk(c.alive('x'), 'nothing comes back')
})

t.test('the canary: confirmed by a canary sent after the channel opened; unconfirmed by a close, a loss or a late canary', async (t) => {
  const sent: string[] = []
  let changes = 0
  const canary = new Canary({
    instance: 'i',
    heartbeatMs: 100,
    send: async (id) => {
      sent.push(id)
    },
    onChange: () => changes++
  })
  t.teardown(() => canary.stop())
  canary.received('i.0')
  t.notOk(canary.confirmed)
  canary.opened()
  t.equal(sent.length, 1)
  canary.received('other.1')
  t.notOk(canary.confirmed, "another instance's canary proves nothing")
  canary.received(sent[0]!)
  t.ok(canary.confirmed)
  t.equal(changes, 1)
  // A canary sent before a loss does not confirm after it.
  canary.probe()
  const before = sent.at(-1)!
  canary.lost()
  t.notOk(canary.confirmed)
  canary.received(before)
  t.notOk(canary.confirmed, 'a canary from before the loss')
  canary.probe()
  canary.received(sent.at(-1)!)
  t.ok(canary.confirmed)
  // Closed: nothing confirms until it opens again.
  canary.closed()
  canary.probe()
  canary.received(sent.at(-1)!)
  t.notOk(canary.confirmed, 'closed')
  canary.opened()
  canary.received(sent.at(-1)!)
  t.ok(canary.confirmed)
  // A canary that does not come back within a heartbeat unconfirms (the heartbeat keeps sending).
  const count = sent.length
  await sleep(350)
  t.ok(sent.length > count, 'heartbeats sent')
  t.notOk(canary.confirmed, 'lagging: unconfirmed')
  canary.received(sent.at(-1)!)
  t.ok(canary.confirmed, 'the next canary back: confirmed')
})

t.test('a channel whose canaries keep failing is asked to reconnect', async (t) => {
  let stuck = 0
  const canary = new Canary({ instance: 'i', heartbeatMs: 20, send: async () => {}, onChange: () => {}, onStuck: () => stuck++ })
  t.teardown(() => canary.stop())
  canary.opened()
  await sleep(300)
  t.ok(stuck >= 1, `reconnect asked ${stuck} times`)
})

t.test('a Redis session key names its session again (the notices carry keys, the cache holds sessions)', async (t) => {
  for (const userId of ['0b6f1c1e-9f0a-4c59-8d43-3c2f1a9b7e10', 'legacy-42', 'a{b}c=d', '=(', 'ü ser']) {
    const sid = 'Xy_-09abcdefghijklmnopq'
    t.same(sessionOfKey(sessionKey({ userId, sid })), { userId, sid }, userId)
  }
  t.equal(sessionOfKey('u:{abc}'), null, 'not a session key')
  t.equal(sessionOfKey('s:{AAAA}:sid'), null, 'not a packed user id')
  t.equal(livenessKey({ userId: 'u', sid: 's' }).startsWith(livenessPrefix('u')), true)
  t.equal(livenessKey({ userId: 'u2', sid: 's' }).startsWith(livenessPrefix('u')), false, "another user's keys do not share the prefix")
})
