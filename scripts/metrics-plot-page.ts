// The page: the run's figures (a table by route, the auth events) above the panels, which mirror
// the Grafana dashboard (docs/grafana/auth-service.json), and a summary of the same for the console.
import { availableParallelism, cpus } from 'node:os'
import { chart, esc, fmt, PALETTE, type ChartSpec } from './metrics-plot-chart.js'
import { BCRYPT_COST, type Run } from './metrics-plot-load.js'
import { all, busy, gauge, overallQuantile, peak, quantiles, rates, scale, sums, type Where } from './metrics-plot-series.js'

export function render (run: Run): { html: string; summary: string[] } {
  const { scrapes, phases } = run
  if (scrapes.length < 5) throw new Error(`only ${scrapes.length} scrapes`)
  const times = scrapes.slice(1).map((s) => s.t)
  const notMetrics: Where = (l) => l.route !== '/metrics'

  const byRoute = rates(scrapes, 'auth_http_request_duration_seconds_count', ['route'], notMetrics).filter(busy)
  const p99Route = quantiles(scrapes, 'auth_http_request_duration_seconds', 0.99, ['route'], notMetrics).filter(busy).map(scale(1000))
  const logins = rates(scrapes, 'auth_events_total', ['event', 'outcome'], (l) => l.event === 'login').filter(busy)
  const refreshes = rates(scrapes, 'auth_events_total', ['event', 'outcome'], (l) => l.event === 'refresh').filter(busy)
  const tokenStore = quantiles(scrapes, 'auth_dependency_duration_seconds', 0.99, ['operation'], (l) => l.dependency === 'token_store').filter(busy).map(scale(1000))
  const database = quantiles(scrapes, 'auth_dependency_duration_seconds', 0.99, ['operation'], (l) => l.dependency === 'database').filter(busy).map(scale(1000))
  const queue = gauge(scrapes, 'auth_bcrypt_queue_depth').map((s) => ({ ...s, name: 'queue depth' }))
  const waitP99 = quantiles(scrapes, 'auth_bcrypt_wait_seconds', 0.99, []).map((s) => ({ ...scale(1000)(s), name: 'wait p99' }))
  const waitP50 = quantiles(scrapes, 'auth_bcrypt_wait_seconds', 0.5, []).map((s) => ({ ...scale(1000)(s), name: 'wait p50' }))
  const cpu = rates(scrapes, 'process_cpu_seconds_total', []).map((s) => ({ ...s, name: 'CPU (cores)' }))
  const lag = gauge(scrapes, 'nodejs_eventloop_lag_p99_seconds').map((s) => ({ ...scale(1000)(s), name: 'event-loop lag p99' }))
  const errors5xx = rates(scrapes, 'auth_http_request_duration_seconds_count', [], (l) => l.status.startsWith('5'))

  // One color per name across the panels (a route is the same color in req/s and in latency).
  const colors = new Map<string, string>()
  const color = (names: string[]) => names.forEach((n) => colors.has(n) || colors.set(n, PALETTE[colors.size % PALETTE.length]!))
  color([...byRoute, ...p99Route].map((s) => s.name))
  // As the dashboard's overrides: success green, wrong password and reuse red.
  const outcomes: Record<string, string> = {
    'login success': '#2ca02c',
    'login wrong_password': '#d62728',
    'login unknown_user': '#9467bd',
    'login inactive': '#8c564b',
    'login throttled': '#ff7f0e',
    'login unverified': '#17becf',
    'refresh rotated': '#2ca02c',
    'refresh grace': '#1f77b4',
    'refresh reuse_detected': '#d62728',
    'refresh revoked': '#ff7f0e',
    'refresh unknown': '#9467bd'
  }
  for (const [name, c] of Object.entries(outcomes)) colors.set(name, c)
  const before = colors.size
  ;[...tokenStore, ...database].forEach((s, i) => colors.has(s.name) || colors.set(s.name, PALETTE[(i + before) % PALETTE.length]!))
  colors.set('queue depth', '#ff7f0e').set('wait p99', '#d62728').set('wait p50', '#1f77b4').set('CPU (cores)', '#2ca02c').set('event-loop lag p99', '#9467bd')

  const panels: ChartSpec[] = [
    { title: 'Requests/s by route', note: 'rate of auth_http_request_duration_seconds_count, every method and status (the scraper\'s own /metrics left out)', unit: 'rps', series: byRoute },
    { title: 'p99 latency by route', note: 'histogram_quantile(0.99) of auth_http_request_duration_seconds_bucket between scrapes', unit: 'ms', log: true, series: p99Route },
    { title: 'Logins/s by outcome', note: 'auth_events_total{event="login"}: success and the failures by cause', unit: 'rps', series: logins },
    {
      title: 'Refresh outcomes/s',
      note: 'auth_events_total{event="refresh"}: rotated; grace (same token again at once); reuse_detected (an old one later: session revoked); revoked',
      unit: 'rps',
      log: true,
      series: refreshes
    },
    { title: 'Token store (Redis) p99 by operation', note: 'auth_dependency_duration_seconds{dependency="token_store"}', unit: 'ms', log: true, series: tokenStore },
    { title: 'Database p99 by operation', note: 'auth_dependency_duration_seconds{dependency="database"}', unit: 'ms', log: true, series: database },
    { title: 'bcrypt queue depth', note: `auth_bcrypt_queue_depth at each scrape (cost ${BCRYPT_COST})`, unit: 'count', series: queue },
    { title: 'bcrypt wait for a worker: p50 and p99', note: 'auth_bcrypt_wait_seconds_bucket between scrapes', unit: 'ms', series: [...waitP99, ...waitP50] },
    { title: 'Process CPU', note: 'rate of process_cpu_seconds_total (bcrypt worker threads included)', unit: 'cores', series: cpu },
    { title: 'Event-loop lag p99', note: 'nodejs_eventloop_lag_p99_seconds', unit: 'ms', series: lag }
  ]

  // The figures of the run.
  const total = (name: string, by: string[], where: Where = all) => {
    const first = sums(scrapes[0]!, name, by, where)
    return [...sums(scrapes.at(-1)!, name, by, where)].map(([k, v]) => [k, v - (first.get(k) ?? 0)] as const).filter(([, v]) => v > 0)
  }
  const seconds = scrapes.at(-1)!.t - scrapes[0]!.t
  const routeRows = byRoute.map((s) => {
    const n = total('auth_http_request_duration_seconds_count', ['route'], (l) => l.route === s.name)[0]?.[1] ?? 0
    const p50 = overallQuantile(scrapes, 'auth_http_request_duration_seconds', 0.5, (l) => l.route === s.name)
    const p99 = overallQuantile(scrapes, 'auth_http_request_duration_seconds', 0.99, (l) => l.route === s.name)
    return { route: s.name, requests: n, peak: peak(s), p50: p50 === null ? null : p50 * 1000, p99: p99 === null ? null : p99 * 1000 }
  })
  const statuses = total('auth_http_request_duration_seconds_count', ['status'], notMetrics)
  const eventTotals = total('auth_events_total', ['event', 'outcome'])
  const fivexx = statuses.filter(([s]) => s.startsWith('5')).reduce((n, [, v]) => n + v, 0)
  const summary = [
    `${scrapes.length} scrapes over ${seconds.toFixed(0)} s; phases: ${phases.map((p) => `${p.name} ${p.start.toFixed(0)}-${p.end.toFixed(0)} s`).join(', ')}`,
    ...routeRows.map((r) => `${r.route}: ${r.requests} requests, peak ${r.peak.toFixed(0)}/s, p50 ${r.p50?.toFixed(1)} ms, p99 ${r.p99?.toFixed(1)} ms (whole run)`),
    `statuses: ${statuses.map(([s, v]) => `${s} ${v}`).join(', ')}; 5xx ${fivexx}`,
    `events: ${eventTotals.map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `bcrypt: queue depth peak ${peak(queue[0] ?? { name: '', values: [] })}, wait p99 peak ${peak(waitP99[0] ?? { name: '', values: [] }).toFixed(0)} ms; CPU peak ${peak(cpu[0] ?? { name: '', values: [] }).toFixed(2)} cores; 5xx/s peak ${peak(errors5xx[0] ?? { name: '', values: [] })}`
  ]

  const table = `<table><tr><th>route</th><th>requests</th><th>peak req/s</th><th>p50</th><th>p99</th></tr>${routeRows
    .map((r) => `<tr><td>${esc(r.route)}</td><td>${r.requests}</td><td>${r.peak.toFixed(0)}</td><td>${r.p50 === null ? '-' : esc(fmt(r.p50, 'ms'))}</td><td>${r.p99 === null ? '-' : esc(fmt(r.p99, 'ms'))}</td></tr>`)
    .join('')}</table>`
  const eventList = eventTotals.map(([k, v]) => `<span class="ev">${esc(k)} <b>${v}</b></span>`).join('')
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>auth service metrics under load</title><style>
body{font:13px/1.35 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1d2329;background:#f6f7f9;margin:0;padding:18px 22px;width:1326px}
h1{font-size:20px;margin:0 0 4px}.sub{color:#555;margin:0 0 12px}
.top{display:flex;gap:22px;align-items:flex-start;margin-bottom:12px}
table{border-collapse:collapse;background:#fff;border:1px solid #d0d4da}td,th{padding:3px 10px;border-bottom:1px solid #eceef1;text-align:right}td:first-child,th:first-child{text-align:left;font-family:"DejaVu Sans Mono",monospace;font-size:12px}
th{background:#eef0f3;font-weight:600}.events{flex:1;background:#fff;border:1px solid #d0d4da;padding:6px 10px}.events h3{margin:0 0 4px;font-size:13px}
.ev{display:inline-block;margin:0 14px 3px 0;font-family:"DejaVu Sans Mono",monospace;font-size:12px}
.grid{display:grid;grid-template-columns:660px 660px;gap:10px}
.panel{background:#fff;border:1px solid #d0d4da;border-radius:4px;padding:8px 10px 6px}
h2{font-size:14px;margin:0}h2 small{color:#777;font-weight:400}.note{margin:1px 0 2px;color:#666;font-size:11.5px;font-family:"DejaVu Sans Mono",monospace}
svg{display:block}.tick{font-size:10.5px;fill:#555}.phase{font-size:10.5px;fill:#6b5b95}
.legend{font-size:12px;margin-top:2px}.key{display:inline-block;margin:0 12px 2px 0}.key i{display:inline-block;width:14px;height:3px;vertical-align:middle;margin-right:5px}.peak{color:#888;font-size:11px}
</style></head><body>
<h1>auth service: Prometheus metrics under load</h1>
<p class="sub">GET /metrics scraped every second for ${seconds.toFixed(0)} s; per-second rates and quantiles between scrapes. One instance (PostgreSQL + Redis, BCRYPT_COST=${BCRYPT_COST}) on ${availableParallelism()} cores (${esc(cpus()[0]?.model ?? 'unknown CPU')}), load from autocannon on the same machine; shaded: the load phases. ${new Date().toISOString().slice(0, 10)}</p>
<div class="top">${table}<div class="events"><h3>Auth events in the run (auth_events_total)</h3>${eventList}<div class="note">5xx responses: ${fivexx}</div></div></div>
<div class="grid">${panels.map((p) => chart(p, times, phases, colors)).join('\n')}</div>
</body></html>`
  return { html, summary }
}
