// Opens /docs in headless Chromium (scripts/screenshot.ts), waits for the operations to render,
// checks that every path of the document is shown and that the page fetched nothing from another
// host (it must work offline), and writes a PNG.
// Usage: tsx scripts/docs-screenshot.ts [out.png]   (CHROMIUM_PATH overrides /usr/bin/chromium)
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../plugins/app/config/index.js'
import { savePng, withPage } from './screenshot.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = resolve(process.argv[2] ?? join(root, 'docs', 'docs-screenshot.png'))

const dataDir = await mkdtemp(join(tmpdir(), 'docs-shot-'))
const app = await buildApp(
  loadConfig({ NODE_ENV: 'development', LOG_LEVEL: 'error', DATA_DIR: dataDir, JWT_SECRET: randomBytes(32).toString('base64url'), PASSWORD_WORKERS: '1' })
)
const problems: string[] = []
try {
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const paths = Object.keys((app.swagger() as { paths: Record<string, unknown> }).paths)

  await withPage(1280, async (page) => {
    const foreign: string[] = []
    page.on('request', (request) => {
      const url = new URL(request.url())
      if (!['data:', 'blob:'].includes(url.protocol) && url.origin !== new URL(base).origin) foreign.push(request.url())
    })
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))

    await page.goto(`${base}/docs`, { waitUntil: 'networkidle' })
    await page.locator('.opblock').first().waitFor({ timeout: 30_000 })
    // One block per operation: the last one rendered means all are.
    await page.locator('.opblock').nth(paths.length - 1).waitFor({ timeout: 30_000 })

    const shown = await page.$$eval('.opblock-summary-path', (els) => els.map((el) => el.getAttribute('data-path') ?? el.textContent ?? ''))
    const missing = paths.filter((p) => !shown.map((s) => s.replace(/\u200b/g, '')).includes(p))
    if (missing.length > 0) problems.push(`paths missing from /docs: ${missing.join(', ')}`)
    if (foreign.length > 0) problems.push(`requests to other hosts: ${foreign.join(', ')}`)
    const title = await page.locator('.info .title').first().textContent()

    await savePng(page, out)
    console.log(`/docs shows ${shown.length} operations on ${paths.length} paths ("${title?.trim()}"); screenshot: ${out}`)
  })
} finally {
  await app.close()
  await rm(dataDir, { recursive: true, force: true })
}

if (problems.length > 0) {
  for (const p of problems) console.error(p)
  process.exit(1)
}
