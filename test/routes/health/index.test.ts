// Readiness during an outage: a load balancer probes /health/ready many times a second, and
// each failed probe must not write its own warning (API.md, "When a dependency fails": one log
// line per failure kind per few seconds).
import t from 'tap'
import { build, get } from '../../helper.js'
import { sparePort } from '../../support/servers.js'

t.test('/health/ready during a Redis and a PostgreSQL outage: 503 to every probe, one warning per dependency and kind', async (t) => {
  const [redisPort, pgPort] = [await sparePort(), await sparePort()]
  const { app, logs } = await build(t, 'postgres', {
    LOG_LEVEL: 'warn',
    // Ports where nothing listens: both dependencies are down from the start.
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    DATABASE_URL: `postgresql://postgres@127.0.0.1:${pgPort}/nowhere`,
    DEPENDENCY_TIMEOUT: '0.5'
  })
  const before = logs.length
  const started = Date.now()
  // Five rounds of five probes at once: well within one throttle interval (a few seconds).
  for (let round = 0; round < 5; round++) {
    const answers = await Promise.all(Array.from({ length: 5 }, () => get(app, '/health/ready')))
    for (const res of answers) {
      t.equal(res.statusCode, 503)
      t.same(res.json(), { status: 'unavailable', database: 'unavailable', token_store: 'unavailable' })
    }
  }
  const took = Date.now() - started
  t.ok(took < 4_000, `25 probes in ${took} ms, within one throttle interval`)

  const warnings = logs.slice(before).filter((l) => (l.level as number) >= 40)
  const perKind = new Map<string, number>()
  for (const w of warnings) {
    const key = `${String(w.dependency)}:${String(w.kind)}:${String(w.msg)}`
    perKind.set(key, (perKind.get(key) ?? 0) + 1)
  }
  t.comment(`warnings: ${JSON.stringify(Object.fromEntries(perKind))}`)
  t.same([...perKind].filter(([, n]) => n > 1), [], 'at most one warning per dependency and kind')
  t.ok(warnings.some((w) => w.dependency === 'database'), 'the database outage is logged')
  t.ok(warnings.some((w) => w.dependency === 'token store'), 'the token store outage is logged')
})
