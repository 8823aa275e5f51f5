// The browser tests' set-up: the service listening on a real port of its own (the account pages
// need a real origin: PUBLIC_URL, cookies, CSRF), headless Chromium (Debian's package, driven by
// playwright-core), and the checks every page gets (axe-core).
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import axe from 'axe-core'
import { simpleParser } from 'mailparser'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { build, type Mode, type TestApp } from '../helper.js'
import { sparePort, until } from './servers.js'
import { launchChromium } from '../../scripts/screenshot.js'

interface TestLike {
  teardown(fn: () => unknown): void
}

export interface Site extends TestApp {
  /** The service's origin, e.g. http://127.0.0.1:40123 (PUBLIC_URL). */
  origin: string
  browser: Browser
  /** A new browser context (a device: its own cookies), closed with the browser. */
  device(options?: { width?: number }): Promise<BrowserContext>
}

/**
 * The app listening on a spare port with PUBLIC_URL set to it, and a browser; both closed at
 * teardown. `hostname` localhost for WebAuthn (a relying party is a domain, never an IP address).
 */
export async function site (t: TestLike, mode: Mode = 'embedded', env: Record<string, string> = {}, hostname: '127.0.0.1' | 'localhost' = '127.0.0.1'): Promise<Site> {
  const port = await sparePort()
  const origin = `http://${hostname}:${port}`
  const built = await build(t, mode, { PUBLIC_URL: origin, ...env })
  await built.app.listen({ host: hostname, port })
  const browser = await launchChromium()
  t.teardown(() => browser.close())
  return {
    ...built,
    origin,
    browser,
    device: ({ width = 1100 } = {}) => browser.newContext({ viewport: { width, height: 900 }, baseURL: origin })
  }
}

export interface AxeViolation {
  id: string
  impact: string | null
  help: string
  nodes: Array<{ target: unknown[] }>
}

/** axe-core's violations of impact serious or critical on the page as it is now. */
export async function seriousViolations (page: Page): Promise<AxeViolation[]> {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(axe.source)
  const violations = await page.evaluate(async () => {
    const result = await (globalThis as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe.run()
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }))
  })
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
}

/** The link of the newest e-mail of `kind` (password-reset, verify-email) written under DATA_DIR/mail. */
export async function linkFromMail (dataDir: string, kind: string, after = 0): Promise<string> {
  const dir = join(dataDir, 'mail')
  let file = ''
  await until(`an ${kind} e-mail in ${dir}`, async () => {
    const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.includes(`-${kind}-`)).sort()
    file = files.length > after ? files[files.length - 1]! : ''
    return file !== ''
  }, 10_000)
  const mail = await simpleParser(await readFile(join(dir, file)))
  const link = /https?:\/\/\S+/.exec(mail.text ?? '')?.[0]
  if (!link) throw new Error(`no link in ${file}`)
  return link
}

/** How many e-mails of `kind` have been written so far. */
export async function mailCount (dataDir: string, kind: string): Promise<number> {
  return (await readdir(join(dataDir, 'mail')).catch(() => [] as string[])).filter((f) => f.includes(`-${kind}-`)).length
}
