// A Redis Cluster losing a master under refresh load, on a 3-master Cluster of this test's own
// (the run's shared Cluster is left alone). The master killed holds none of the chains' keys;
// once the others mark it failed, the Cluster refuses every command (CLUSTERDOWN: its slots are
// not covered), and the service answers 503 within DEPENDENCY_TIMEOUT, never a 401, a 500 or a
// hang. When the master comes back the Cluster heals and every chain goes on rotating.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { Cluster } from 'ioredis'
import { userKey } from '../../plugins/app/token-store/index.js'
import { build, get, login, post, register } from '../helper.js'
import { refreshLoad, type Chain } from '../support/refresh-load.js'
import { onceBack, startRedisCluster } from '../support/servers.js'

const run = promisify(execFile)
const TIMEOUT_MS = 500
const SLACK_MS = 400
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('a Cluster master killed and restarted under refresh load: 503s while the Cluster is down, every chain continues', async (t) => {
  const cluster = await startRedisCluster(3)
  t.teardown(() => cluster.destroy())
  const { app } = await build(t, 'postgres', { REDIS_URL: '', REDIS_CLUSTER_NODES: cluster.seeds, DEPENDENCY_TIMEOUT: String(TIMEOUT_MS / 1000) })
  t.equal(app.config.redis?.kind, 'cluster')
  const user = await register(app)
  const chains: Chain[] = []
  for (let i = 0; i < 8; i++) chains.push({ ...(await login(app, user.username)), ok: 0, okAfter: 0 })

  // Which master holds the user's keys: the victim is another one.
  const probe = new Cluster([{ host: '127.0.0.1', port: cluster.nodes[0]!.port }], { lazyConnect: true })
  await probe.connect()
  const slot = Number(await probe.cluster('KEYSLOT', app.config.redisKeyPrefix + userKey(user.id)))
  const owner = (probe.slots[slot] ?? [])[0]
  probe.disconnect()
  const victim = cluster.nodes.find((n) => `127.0.0.1:${n.port}` !== owner)!
  t.ok(owner && victim, `the user's slot ${slot} is on ${owner}; killing 127.0.0.1:${victim.port}`)

  const load = refreshLoad(app, chains)
  await sleep(500)
  await victim.kill()
  // The others mark it failed after cluster-node-timeout (2 s) and gossip: the Cluster is down.
  const survivor = cluster.nodes.find((n) => n !== victim)!
  const end = Date.now() + 20_000
  let state = ''
  while (Date.now() < end) {
    state = (await run('redis-cli', ['-p', String(survivor.port), 'CLUSTER', 'INFO'])).stdout
    if (state.includes('cluster_state:fail')) break
    await sleep(100)
  }
  t.match(state, /cluster_state:fail/, 'the Cluster went down')
  // A command the Cluster refuses fails at once, and is not kept to be sent again later: a write
  // re-sent after its caller's 503 could run after the client's retry (and look like reuse).
  const probeKey = `fault:{${user.id}}`
  const refused = await app.redis!.incr(probeKey).then(
    () => null,
    (err: Error) => err.message
  )
  t.match(refused, /^CLUSTERDOWN/, 'refused at once (no delayed re-send)')
  await sleep(1_000)
  const during = load.statuses.get(503) ?? 0
  await victim.start()
  load.after()
  await load.settle(3, 30_000)

  t.comment(`statuses: ${JSON.stringify(Object.fromEntries(load.statuses))}`)
  t.ok(during > 0, `503s while the Cluster was down (${during})`)
  t.same(load.unexpected, [], 'only 200s and 503s (with Retry-After: 5)')
  t.same(load.unavailable.filter((ms) => ms > TIMEOUT_MS + SLACK_MS), [], `every 503 within ${TIMEOUT_MS} ms (+ ${SLACK_MS} ms of scheduling)`)
  for (const [i, c] of chains.entries()) t.ok(c.okAfter >= 3, `chain ${i} rotated ${c.okAfter} times after the master came back`)
  // The restarted node rejoining can take the Cluster down again for a moment (CLUSTERDOWN):
  // the checks below wait that out; what they check is what was stored.
  const read = async (): Promise<string | null> => {
    for (let i = 0; ; i++) {
      try {
        return await app.redis!.get(probeKey)
      } catch (err) {
        if (!/^CLUSTERDOWN/.test((err as Error).message) || i >= 100) throw err
        await sleep(100)
      }
    }
  }
  t.equal(await read(), null, 'the refused command never ran, not even once the Cluster was back')
  for (const c of chains) {
    t.equal((await onceBack(() => get(app, '/api/protected-endpoint/', c.access), 10_000)).statusCode, 200)
    t.equal((await onceBack(() => post(app, '/api/token/refresh/', { refresh: c.refresh }), 10_000)).statusCode, 200, 'the chain continues')
  }
})
