// /metrics scraped as Prometheus would and read by a strict reader of the text format (test/support/prometheus.ts): request
// latency by route and status, auth events by outcome (the audit log's counts), token-store and
// database latency, dependency errors by kind, the bcrypt pool, e-mail; served to METRICS_ALLOW
// only on the main port, or on METRICS_PORT.
import t from 'tap'
import { build, call, PASSWORD, register } from '../../helper.js'
import { parsePrometheus, valueOf } from '../../support/prometheus.js'
import { sparePort } from '../../support/servers.js'

const parse = parsePrometheus

t.test('/metrics on the main port: what it counts, in the Prometheus text format', async (t) => {
  const { app, variant } = await build(t, 'postgres')
  const user = await register(app)
  t.equal((await call(app, 'POST', '/api/auth/login/', { body: { username: user.username, password: PASSWORD } })).statusCode, 200)
  t.equal((await call(app, 'POST', '/api/auth/login/', { body: { username: user.username, password: 'Wr0ng-Passphrase!' } })).statusCode, 401)
  t.equal((await call(app, 'POST', '/api/token/refresh/', { body: { refresh: user.refresh } })).statusCode, 200)
  for (let i = 0; i < 3; i++) t.equal((await call(app, 'GET', '/api/protected-endpoint/', { access: user.access })).statusCode, 200)
  t.equal((await call(app, 'GET', '/no/such/path')).statusCode, 404)

  const res = await call(app, 'GET', '/metrics')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const m = parse(res.body)

  // Requests: a histogram per method, route pattern and status; its _count is the request count.
  const requests = m.get('auth_http_request_duration_seconds')
  t.equal(requests?.type, 'histogram')
  const protectedRoute = { method: 'GET', route: '/api/protected-endpoint/', status: '200' }
  t.equal(valueOf(m, 'auth_http_request_duration_seconds_count', protectedRoute), 3, 'three protected requests')
  t.ok(valueOf(m, 'auth_http_request_duration_seconds_sum', protectedRoute)! > 0)
  t.equal(valueOf(m, 'auth_http_request_duration_seconds_bucket', { ...protectedRoute, le: '+Inf' }), 3)
  t.equal(valueOf(m, 'auth_http_request_duration_seconds_count', { route: '/api/auth/login/', status: '401' }), 1)
  t.equal(valueOf(m, 'auth_http_request_duration_seconds_count', { route: 'unmatched', status: '404' }), 1, 'unknown paths are one series, not one per path')
  t.ok(
    requests?.samples.every((s) => !String(s.labels.route).includes('no/such')),
    'no series is named after a path nobody routes'
  )

  // Auth events by outcome, every series present from the start.
  t.equal(m.get('auth_events_total')?.type, 'counter')
  t.equal(valueOf(m, 'auth_events_total', { event: 'register', outcome: 'success' }), 1)
  t.equal(valueOf(m, 'auth_events_total', { event: 'login', outcome: 'success' }), 1)
  t.equal(valueOf(m, 'auth_events_total', { event: 'login', outcome: 'wrong_password' }), 1)
  t.equal(valueOf(m, 'auth_events_total', { event: 'refresh', outcome: 'rotated' }), 1)
  t.equal(valueOf(m, 'auth_events_total', { event: 'refresh', outcome: 'reuse_detected' }), 0)

  // Dependencies: token store and database latency by operation.
  t.equal(valueOf(m, 'auth_dependency_duration_seconds_count', { dependency: 'token_store', operation: 'rotate' }), 1)
  // The three protected checks: each answered from the liveness cache or asked of the store.
  const lookups = (result: string) => valueOf(m, 'auth_liveness_cache_lookups_total', { result })!
  t.equal(lookups('hit') + lookups('miss') + lookups('bypass'), 3)
  t.equal(valueOf(m, 'auth_dependency_duration_seconds_count', { dependency: 'token_store', operation: 'isSessionActive' }), 3 - lookups('hit'), 'the store was asked for every check not answered from memory')
  t.ok(valueOf(m, 'auth_dependency_duration_seconds_count', { dependency: 'database', operation: 'findByLogin' })! >= 2)

  // The bcrypt pool: its queue now, and how long tasks waited and worked.
  t.equal(m.get('auth_bcrypt_queue_depth')?.type, 'gauge')
  t.equal(valueOf(m, 'auth_bcrypt_queue_depth'), 0)
  t.ok(valueOf(m, 'auth_bcrypt_wait_seconds_count')! >= 3, 'register hashed, two logins compared (and the dummy hash)')
  t.ok(valueOf(m, 'auth_bcrypt_duration_seconds_count', { op: 'compare' })! >= 2)

  // Mail, and the process's own metrics.
  t.equal(m.get('auth_mail_total')?.type, 'counter')
  t.ok(m.has('process_cpu_seconds_total') && m.has('nodejs_eventloop_lag_seconds'), 'the default process metrics')

  // Dependency errors by kind: an app whose Redis is not there answers 503 and counts it.
  const port = await sparePort()
  const down = await variant({ REDIS_URL: `redis://127.0.0.1:${port}`, DEPENDENCY_TIMEOUT: '0.3' })
  t.equal((await call(down, 'POST', '/api/token/refresh/', { body: { refresh: user.refresh } })).statusCode, 503)
  const downMetrics = parse((await call(down, 'GET', '/metrics')).body)
  t.equal(valueOf(downMetrics, 'auth_dependency_errors_total', { dependency: 'token_store', kind: 'down' }), 1)
  t.equal(valueOf(downMetrics, 'auth_http_request_duration_seconds_count', { route: '/api/token/refresh/', status: '503' }), 1)
})

t.test('/metrics on the main port only for METRICS_ALLOW', async (t) => {
  const { app, variant } = await build(t, 'postgres')
  t.equal((await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' })).statusCode, 200, 'the default: 127.0.0.1')
  t.equal((await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '::1' })).statusCode, 200, 'and ::1')
  const other = await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '203.0.113.9' })
  t.equal(other.statusCode, 403)
  t.same(other.json(), { detail: 'You do not have permission to perform this action.' })
  const proxied = await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': '203.0.113.9' } })
  t.equal(proxied.statusCode, 403, 'through a proxy nobody trusts (no TRUST_PROXY): refused')

  const ranged = await variant({ METRICS_ALLOW: '10.0.0.0/8, 2001:db8::/32' })
  t.equal((await ranged.inject({ method: 'GET', url: '/metrics', remoteAddress: '10.1.2.3' })).statusCode, 200, 'in the range')
  t.equal((await ranged.inject({ method: 'GET', url: '/metrics', remoteAddress: '::ffff:10.1.2.3' })).statusCode, 200, 'IPv4 on a dual-stack socket')
  t.equal((await ranged.inject({ method: 'GET', url: '/metrics', remoteAddress: '2001:db8::7' })).statusCode, 200)
  t.equal((await ranged.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' })).statusCode, 403, 'the default is replaced')

  const behindProxy = await variant({ TRUST_PROXY: '127.0.0.1', METRICS_ALLOW: '10.0.0.0/8' })
  const viaProxy = (client: string) => behindProxy.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': client } })
  t.equal((await viaProxy('10.9.9.9')).statusCode, 200, 'a trusted proxy: the client it names is checked')
  t.equal((await viaProxy('203.0.113.9')).statusCode, 403)
})

t.test('METRICS_PORT: /metrics on a port of its own, and not on the main one', async (t) => {
  const { variant } = await build(t, 'postgres')
  const app = await variant({ METRICS_PORT: '0' })
  const port = app.metrics.port
  t.ok(port !== null && port > 0, `listening on ${port}`)
  const res = await fetch(`http://127.0.0.1:${port}/metrics`)
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  t.ok(parse(await res.text()).has('auth_events_total'))
  t.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404)
  t.equal((await call(app, 'GET', '/metrics')).statusCode, 404, 'the main port has no /metrics')
  await app.close()
  await t.rejects(fetch(`http://127.0.0.1:${port}/metrics`), 'closed with the app')
})

t.test('METRICS_ALLOW and METRICS_PORT are checked at start', async (t) => {
  const { loadConfig } = await import('../../../plugins/app/config/index.js')
  const base = { DATA_DIR: '/tmp/auth-metrics-config', JWT_SECRET: 'a-secret-of-at-least-32-bytes-for-the-tests' }
  t.same(loadConfig(base).metrics, { port: null, allow: ['127.0.0.1', '::1'] })
  t.throws(() => loadConfig({ ...base, METRICS_ALLOW: '10.0.0.0/33' }), /METRICS_ALLOW: not an IP address or CIDR range: "10.0.0.0\/33"/)
  t.throws(() => loadConfig({ ...base, METRICS_ALLOW: 'localhost' }), /METRICS_ALLOW/)
  t.throws(() => loadConfig({ ...base, METRICS_PORT: '70000' }), /METRICS_PORT/)
})

t.test('the reader is strict: what is not the text format is refused', async (t) => {
  t.throws(() => parse('x_total 1\n'), /no declared family/)
  t.throws(() => parse('# TYPE x counter\nx{a="1" 2\n'), /not a sample|bad labels/)
  t.throws(() => parse('# TYPE x counter\nx{a=1} 2\n'), /bad labels/)
  t.throws(() => parse('# TYPE x counter\nx one\n'), /bad value/)
  t.throws(() => parse('# TYPE x histogram\nx_total 1\n'), /no declared family/)
  const m = parse('# HELP x An \\\\ escaped\\nhelp\n# TYPE x gauge\nx{path="C:\\\\DIR",msg="a \\"quote\\""} -1.5e3\n')
  t.equal(m.get('x')?.help, 'An \\ escaped\nhelp')
  t.same(m.get('x')?.samples, [{ name: 'x', labels: { path: 'C:\\DIR', msg: 'a "quote"' }, value: -1500 }])
})

t.test('the reader takes Inf and NaN as Prometheus does (prom-client writes NaN as "Nan")', async (t) => {
  const m = parse('# TYPE g gauge\ng{a="1"} Nan\ng{a="2"} +Inf\ng{a="3"} -inf\n')
  t.ok(Number.isNaN(valueOf(m, 'g', { a: '1' })))
  t.equal(valueOf(m, 'g', { a: '2' }), Infinity)
  t.equal(valueOf(m, 'g', { a: '3' }), -Infinity)
})
