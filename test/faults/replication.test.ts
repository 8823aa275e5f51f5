// A write whose replica is online but silent (frozen: SIGSTOP): WAIT falls short after the
// rotation ran on the master, and the answer is a 503. The client's honest retry, even past the
// grace interval and through more 503s, gets the token that rotation issued, never "reuse"; and
// reuse detection still holds for a real replay once that answer was given. On a master and a
// replica of the test's own (REDIS_URL, REDIS_WAIT_REPLICAS=1), no Sentinel.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { build, get, post, register } from '../helper.js'
import { startRedis, until } from '../support/servers.js'

const run = promisify(execFile)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('a rotation answered 503 is answered on retry past the grace interval; a real replay still revokes the session', async (t) => {
  const master = await startRedis()
  t.teardown(() => master.destroy())
  const replica = await startRedis(['--replicaof', '127.0.0.1', String(master.port)])
  t.teardown(() => replica.destroy())
  const online = async () => /^slave0:.*state=online/m.test((await run('redis-cli', ['-p', String(master.port), 'INFO', 'replication'])).stdout)
  await until('the replica to be in sync', online, 15_000)
  const { app, logs } = await build(t, 'postgres', { REDIS_URL: master.url, REDIS_WAIT_REPLICAS: '1', REFRESH_REUSE_INTERVAL: '1', LOG_LEVEL: 'warn' })
  const user = await register(app)

  replica.freeze()
  t.teardown(() => replica.thaw())
  const first = await post(app, '/api/token/refresh/', { refresh: user.refresh })
  t.equal(first.statusCode, 503, 'the replica does not acknowledge: a 503 (the rotation ran on the master)')
  t.equal(first.headers['retry-after'], '5')
  await sleep(1_500)
  const second = await post(app, '/api/token/refresh/', { refresh: user.refresh })
  t.equal(second.statusCode, 503, 'retried past the grace interval, still unacknowledged: a 503, not reuse')
  await sleep(1_500)

  replica.thaw()
  let retry = await post(app, '/api/token/refresh/', { refresh: user.refresh })
  const end = Date.now() + 10_000
  while (retry.statusCode === 503 && Date.now() < end) {
    await sleep(200)
    retry = await post(app, '/api/token/refresh/', { refresh: user.refresh })
  }
  t.equal(retry.statusCode, 200, 'the replica back: the retry gets its pair')
  const pair = retry.json() as { access: string; refresh: string }
  t.equal((await get(app, '/api/protected-endpoint/', pair.access)).statusCode, 200)
  const next = await post(app, '/api/token/refresh/', { refresh: pair.refresh })
  t.equal(next.statusCode, 200, 'and the chain continues from it')
  const latest = (next.json() as { refresh: string }).refresh

  // The first token once more, now that its answer was given and the interval is over: a replay.
  await sleep(1_500)
  const replay = await post(app, '/api/token/refresh/', { refresh: user.refresh })
  t.equal(replay.statusCode, 401)
  t.match(replay.json(), { detail: 'Token is blacklisted', code: 'token_not_valid' })
  t.equal((await post(app, '/api/token/refresh/', { refresh: latest })).statusCode, 401, 'the whole session is revoked')
  t.equal(logs.filter((l) => l.msg === 'audit: refresh reuse_detected').length, 1, 'reuse detected once: for the replay')
})
