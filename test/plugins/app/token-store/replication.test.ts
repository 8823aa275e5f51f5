// Writes that wait for replicas (WAIT): how many they wait for when the master has fewer replicas
// online than REDIS_WAIT_REPLICAS, and a rotation answered 503 whose retry must never look like
// reuse. On the shared single Redis (it has no replica: WAIT reports 0), with the count of the
// master's replicas given by the test. The same on real servers: test/faults/sentinel.test.ts.
import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { newId } from '../../../../plugins/app/ids.js'
import { NotReplicatedError, RedisTokenStore, sessionKey, type TokenStoreOptions } from '../../../../plugins/app/token-store/index.js'
import { infoProbe, replicationInfo, ReplicaTargets, type ReplicationInfo } from '../../../../plugins/app/token-store/replication.js'
import { redisOutage } from '../../../../plugins/external/redis-outage.js'
import { testRedis, TOPOLOGIES } from '../../../support/redis.js'

const OPTIONS: TokenStoreOptions = { accessTtl: 300, refreshTtl: 86400, sessionMaxAge: 2592000, reuseInterval: 10 }
const HOUR = 3_600_000

t.test('replicationInfo reads the role, the replication ID and the replicas online', async (t) => {
  const info = (...slaves: string[]) =>
    ['# Replication', 'role:master', `connected_slaves:${slaves.length}`, ...slaves.map((s, i) => `slave${i}:${s}`), 'master_failover_state:no-failover', 'master_replid:4f1c8e', 'master_replid2:0000', ''].join('\r\n')
  t.same(replicationInfo(info()), { role: 'master', replid: '4f1c8e', online: 0 }, 'a master alone')
  t.equal(replicationInfo(info('ip=10.0.0.2,port=6379,state=online,offset=9120,lag=0')).online, 1)
  t.equal(replicationInfo(info('ip=10.0.0.2,port=6379,state=online,offset=9120,lag=7', 'ip=10.0.0.3,port=6379,state=online,offset=9120,lag=1')).online, 2, 'lagging or not')
  t.equal(replicationInfo(info('ip=10.0.0.2,port=6379,state=wait_bgsave,offset=0,lag=0', 'ip=10.0.0.3,port=6379,state=send_bulk,offset=0,lag=0')).online, 0, 'still syncing: not yet')
  t.match(replicationInfo('# Replication\r\nrole:slave\r\nmaster_host:10.0.0.1\r\n'), { role: 'slave', online: 0 })
})

t.test('ReplicaTargets: a new master is taken with the replicas it has; one that had more is not; counted again each second', async (t) => {
  const tr = await testRedis()
  t.teardown(() => tr.cleanup())
  let now: ReplicationInfo | null = { role: 'master', replid: 'new', online: 0 }
  let asked = 0
  const targets = new ReplicaTargets(2, tr.redis, async () => {
    asked++
    return now
  })
  t.teardown(() => targets.close())
  const c = tr.redis
  t.equal(targets.route('u:{x}'), '', 'one master: one route')
  t.equal(targets.target(''), 2, 'nothing asked while no WAIT fell short')
  t.equal(asked, 0)
  t.equal(await targets.covers(c, '', 0), true, 'a master that never had a replica (just promoted): its word is all there is')
  t.equal(targets.target(''), 0, 'and the next writes do not wait')
  now = { role: 'master', replid: 'new', online: 1 }
  t.equal(await targets.covers(c, '', 0), false, 'a replica online that did not acknowledge: not covered')
  t.equal(await targets.covers(c, '', 1), true)
  t.equal(targets.target(''), 1)
  now = { role: 'master', replid: 'new', online: 0 }
  t.equal(await targets.covers(c, '', 0), false, 'the replica it had is gone: it may be the master a failover replaces, its writes are 503s')
  t.equal(targets.target(''), 2)
  now = { role: 'slave', replid: 'x', online: 0 }
  t.equal(await targets.covers(c, '', 0), false, 'a replica (a demoted master) covers nothing')
  now = null
  t.equal(await targets.covers(c, '', 2), false, 'a master that is gone covers nothing')

  // Another promotion: a new replication ID, short again; counted each second until it has its replicas.
  now = { role: 'master', replid: 'newer', online: 0 }
  t.equal(await targets.covers(c, '', 0), true)
  t.equal(targets.target(''), 0)
  now = { role: 'master', replid: 'newer', online: 2 }
  const before = asked
  await new Promise((resolve) => setTimeout(resolve, 1_300))
  t.ok(asked > before, 'counted again')
  t.equal(targets.target(''), 2, 'back to the number wanted')
  t.equal(await targets.covers(c, '', 1), false)
})

t.test('ReplicaTargets: what a master has is read when a write connection becomes ready', async (t) => {
  const tr = await testRedis()
  t.teardown(() => tr.cleanup())
  let now: ReplicationInfo = { role: 'master', replid: 'old', online: 1 }
  const targets = new ReplicaTargets(1, tr.redis, async () => now)
  t.teardown(() => targets.close())
  await targets.observe(tr.redis)
  // Its replica was promoted away: this master is the one being replaced.
  now = { role: 'master', replid: 'old', online: 0 }
  t.equal(await targets.covers(tr.redis, '', 0), false, 'had one: not taken at its word')
})

t.test('redis store: what it listens to on the caller\'s connection goes when the store is closed', async (t) => {
  const tr = await testRedis()
  t.teardown(() => tr.cleanup())
  const before = tr.redis.listenerCount('ready')
  // More stores than EventEmitter's warning threshold (10), one after the other on one connection.
  for (let i = 0; i < 15; i++) {
    const store = new RedisTokenStore(tr.redis, OPTIONS, { replicas: 1, timeoutMs: 50, probe: async () => ({ role: 'master', replid: 'r', online: 1 }) })
    t.equal(tr.redis.listenerCount('ready'), before + 1)
    await store.close()
  }
  t.equal(tr.redis.listenerCount('ready'), before, 'none left behind')
})

/** A session to start, with its own ids. */
const newSession = () => ({ sid: newId(), userId: randomUUID(), jti: newId(), ip: '203.0.113.7', userAgent: 'MyApp/2.1' })

/** A store whose writes wait for one replica, on the shared Redis; `master` is what its INFO says (the test sets it). */
async function waitingStore (t: Test) {
  const tr = await testRedis()
  t.teardown(() => tr.cleanup())
  const master = { role: 'master', replid: 'first', online: 1 }
  const store = new RedisTokenStore(tr.redis, OPTIONS, { replicas: 1, timeoutMs: 50, probe: async () => ({ ...master }) })
  t.teardown(() => store.close())
  return { tr, store, master }
}

t.test('redis store: a write a replica online does not acknowledge is an outage; a master without replicas is taken at its word', async (t) => {
  const { store, master } = await waitingStore(t)
  const s = newSession()
  const err = await store.createSession(s).catch((e: unknown) => e)
  t.type(err, NotReplicatedError)
  t.match((err as Error).message, /0 of 1 replicas/)
  t.equal(redisOutage(err), 'noreplicas', 'answered as a 503')
  // Reads do not wait.
  t.equal(await store.isSessionActive({ userId: randomUUID(), sid: newId() }), false)

  master.online = 0
  const other = newSession()
  t.type(await store.createSession(other).catch((e: unknown) => e), NotReplicatedError, 'a master that lost the replica it had: still a 503')
  master.replid = 'promoted'
  t.match(await store.createSession(other), { jti: other.jti }, 'the master alone (just promoted, its replica gone): accepted')
  t.equal(await store.isSessionActive(other), true)
})

t.test('redis store: a rotation answered 503 gets its retry answered, past the grace interval, then reuse detection as ever', async (t) => {
  const { tr, store, master } = await waitingStore(t)
  const now = Date.now()
  const s = newSession()
  await new RedisTokenStore(tr.redis, OPTIONS).createSession({ ...s, now })

  // The replica is online but does not acknowledge: the rotation runs on the master, the answer is a 503.
  const newJti = newId()
  const err = await store.rotate({ ...s, newJti, now: now + 1_000 }).catch((e: unknown) => e)
  t.type(err, NotReplicatedError, 'the client gets a 503')
  t.equal(await store.refreshStatus(s, newJti), 'current', 'yet the rotation ran')
  t.equal(String(await tr.redis.hget(sessionKey(s), 'u')), '1', 'and the session knows (from the rotation itself) that its answer is not confirmed')

  // Retried long past the grace interval, still while the replica does not answer: a 503 again,
  // and still owed.
  const again = await store.rotate({ ...s, newJti: newId(), now: now + HOUR }).catch((e: unknown) => e)
  t.type(again, NotReplicatedError)
  t.equal(await store.refreshStatus(s, newJti), 'current', 'nothing moved: the retry gets the same token')

  // The replica answers again: the retry gets the token the first call issued, no reuse.
  master.online = 0
  master.replid = 'promoted'
  const retry = await store.rotate({ ...s, newJti: newId(), now: now + HOUR + 1_000 })
  t.same(retry, { status: 'grace', refresh: { jti: newJti, iat: Math.floor((now + 1_000) / 1000), exp: Math.floor((now + 1_000) / 1000) + OPTIONS.refreshTtl } })
  t.equal(await store.isSessionActive(s), true)
  await tr.redis.ping() // the confirmation follows the answer on this connection
  t.equal(await tr.redis.hexists(sessionKey(s), 'u'), 0, 'answered and confirmed: the grace interval alone applies again')

  // That token presented once more, past the grace interval: a replay, and the session dies.
  t.same(await store.rotate({ ...s, newJti: newId(), now: now + HOUR + 20_000 }), { status: 'reused' })
  t.equal(await store.isSessionActive(s), false)
})

t.test('redis store without WAIT: the mark after a failed call needs the session to have moved on from the presented token', async (t) => {
  const tr = await testRedis()
  t.teardown(() => tr.cleanup())
  const store = new RedisTokenStore(tr.redis, OPTIONS)
  const now = Date.now()
  const s = newSession()
  await store.createSession({ ...s, now })
  const mark = (jti: string) => (tr.redis as unknown as { tokenStoreMarkUnanswered(k: string, j: Buffer): Promise<number> }).tokenStoreMarkUnanswered(sessionKey(s), Buffer.from(jti, 'base64url'))
  t.equal(await mark(s.jti), 0, 'a call that never ran: its token is still current, nothing to mark')
  const next = newId()
  t.equal((await store.rotate({ ...s, newJti: next, now: now + 1_000 })).status, 'rotated')
  t.equal(await mark(newId()), 0, 'another token: nothing')
  t.equal(await mark(s.jti), 1, 'the token the session moved on from: marked')
  // A rotation of the current token clears it: the mark was about the token before.
  t.equal((await store.rotate({ ...s, jti: next, newJti: newId(), now: now + 2_000 })).status, 'rotated')
  t.equal(await tr.redis.hexists(sessionKey(s), 'u'), 0)
  t.same(await store.rotate({ ...s, newJti: newId(), now: now + HOUR }), { status: 'reused' }, 'the older token, past the interval: reuse')
  t.equal(await mark(s.jti), 0, 'a revoked session is never marked')
})

if (TOPOLOGIES.includes('cluster')) {
  t.test('redis store (cluster): each master is counted apart; masters without replicas take writes at their word', async (t) => {
    // The run's Cluster: three masters, no replica.
    const tr = await testRedis(undefined, 'cluster')
    t.teardown(() => tr.cleanup())
    const asked: string[] = []
    const info = infoProbe
    const store = new RedisTokenStore(tr.redis, OPTIONS, {
      replicas: 1,
      timeoutMs: 50,
      probe: async (client, route) => {
        // '' : a master read as a connection becomes ready (observe), not counted after a WAIT
        if (route) asked.push(route)
        return info(client, route)
      }
    })
    t.teardown(() => store.close())
    for (let i = 0; i < 12; i++) {
      const s = newSession()
      await store.createSession(s)
      t.equal((await store.rotate({ ...s, newJti: newId() })).status, 'rotated')
    }
    const masters = new Set(asked)
    t.ok(masters.size > 1, `the masters written to were counted apart (${[...masters].join(', ')})`)
    for (const m of masters) t.match(m, /^[\w.-]+:\d+$/, 'a master by its address')
    t.ok(asked.length <= 3 * masters.size, 'each counted once, not per write (the next writes do not wait)')
    t.equal(await infoProbe(tr.redis, '127.0.0.1:1'), null, 'an address that is no master')
  })
}
