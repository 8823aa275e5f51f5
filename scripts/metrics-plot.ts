// The service's Prometheus metrics under load, drawn for the README (docs/metrics-plot.png): the
// compiled service runs as a child on a PostgreSQL database and a Redis key prefix of its own,
// autocannon drives about 50 s of load in phases (protected requests, logins with some wrong
// passwords and unknown users, rotating refreshes, then all of it mixed with replayed old refresh
// tokens, grace-interval retries and password reset requests), /metrics is scraped every second
// (metrics-plot-load.ts), per-second rates and p50/p99 are read from the scrapes
// (metrics-plot-series.ts) and drawn as inline SVG charts (metrics-plot-chart.ts) in an HTML page
// (metrics-plot-page.ts) that headless Chromium turns into a PNG (screenshot.ts). The database
// and the Redis keys are removed at the end, also when the run fails or is interrupted.
//
// Usage: npm run metrics:plot [-- out.png]   (builds, then node dist/scripts/metrics-plot.js)
//   CHROMIUM_PATH overrides /usr/bin/chromium (apt-get install -y chromium);
//   METRICS_PLOT_PG_URL (postgresql://postgres@127.0.0.1:5432/postgres: the server, where a
//   database auth_metrics_plot_<random> is made and dropped) and METRICS_PLOT_REDIS_URL
//   (redis://127.0.0.1:6379, keys under metrics-plot:<random>:).
import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { cleanup, dist, drive, logPath, root, say, type Run } from './metrics-plot-load.js'
import { render } from './metrics-plot-page.js'
import { requireChromium, savePng, withPage } from './screenshot.js'

// npm runs scripts in the package's folder: a relative path is the caller's (INIT_CWD).
const out = resolve(process.env.INIT_CWD ?? process.cwd(), process.argv[2] ?? join(root, 'docs', 'metrics-plot.png'))

async function screenshot (html: string): Promise<void> {
  await withPage(1370, async (page) => {
    // The page is self-contained: anything it would fetch is a mistake.
    const fetched: string[] = []
    page.on('request', (request) => {
      if (!/^(data|about):/.test(request.url())) fetched.push(request.url())
    })
    await page.setContent(html, { waitUntil: 'load' })
    if (fetched.length > 0) throw new Error(`the page fetched ${fetched.join(', ')}`)
    await savePng(page, out)
  })
}

async function main (): Promise<void> {
  for (const file of [join(dist, 'src', 'server.js'), join(dist, 'scripts', 'migrate.js')]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: npm run build first (npm run metrics:plot does)`)
  }
  requireChromium()
  let run: Run
  try {
    run = await drive()
  } finally {
    await cleanup()
  }
  const { html, summary } = render(run)
  for (const line of summary) say(line)
  for (const [what, n] of Object.entries(run.side)) say(`side traffic: ${what}: ${n}`)
  for (const [name, results] of Object.entries(run.load)) {
    const requests = results.reduce((n, r) => n + r.requests, 0)
    const non2xx = results.reduce((n, r) => n + r.non2xx, 0)
    const errors = results.reduce((n, r) => n + r.errors + r.timeouts, 0)
    say(`autocannon ${name}: ${requests} requests, ${non2xx} non-2xx, ${errors} errors/timeouts`)
  }
  await screenshot(html)
  await rm(logPath, { force: true })
  say(`plot: ${out}`)
}

main().then(
  () => process.exit(0),
  async (err: Error) => {
    console.error(`[metrics-plot] failed: ${err.stack ?? err.message}\n(the service's log: ${logPath})`)
    await cleanup()
    process.exit(1)
  }
)
