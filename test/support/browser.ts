// The browser tests' set-up: the service listening on a real port of its own (the account pages
// need a real origin: PUBLIC_URL, cookies, CSRF), headless Chromium (Debian's package, driven by
// playwright-core), and the checks every page gets (axe-core).
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import axe from 'axe-core'
import { simpleParser } from 'mailparser'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import type { Test } from 'tap'
import { build, PASSWORD, type Mode, type TestApp } from '../helper.js'
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
  device(options?: { width?: number; userAgent?: string }): Promise<BrowserContext>
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
    device: ({ width = 1100, userAgent } = {}) => browser.newContext({ viewport: { width, height: 900 }, baseURL: origin, ...(userAgent ? { userAgent } : {}) })
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

export interface Mail {
  to: string
  subject: string
  text: string
  /** The first link of the text. */
  link: string | null
}

/**
 * The newest e-mail of `kind` (password-reset, verify-email, email-change, security-notice) written
 * under DATA_DIR/mail once more than `after` of that kind exist; with `to`, the newest to that address.
 */
export async function newestMail (dataDir: string, kind: string, { after = 0, to }: { after?: number; to?: string } = {}): Promise<Mail> {
  const dir = join(dataDir, 'mail')
  const found: { mail?: Mail } = {}
  await until(`${to ? `an ${kind} e-mail to ${to}` : `an ${kind} e-mail`} in ${dir}`, async () => {
    const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.includes(`-${kind}-`)).sort()
    if (files.length <= after) return false
    for (const file of files.slice(after).reverse()) {
      const parsed = await simpleParser(await readFile(join(dir, file)))
      const address = parsed.to && !Array.isArray(parsed.to) ? parsed.to.text : ''
      if (to && address !== to) continue
      const text = parsed.text ?? ''
      found.mail = { to: address, subject: parsed.subject ?? '', text, link: /https?:\/\/\S+/.exec(text)?.[0] ?? null }
      return true
    }
    return false
  }, 10_000)
  return found.mail!
}

/** The link of the newest e-mail of `kind` written under DATA_DIR/mail. */
export async function linkFromMail (dataDir: string, kind: string, after = 0): Promise<string> {
  const { link } = await newestMail(dataDir, kind, { after })
  if (!link) throw new Error(`no link in the newest ${kind} e-mail`)
  return link
}

/** How many e-mails of `kind` have been written so far. */
export async function mailCount (dataDir: string, kind: string): Promise<number> {
  return (await readdir(join(dataDir, 'mail')).catch(() => [] as string[])).filter((f) => f.includes(`-${kind}-`)).length
}

// ---- the account page (/account/) as a user works it

/** One of the account page's views (signin, signup, forgot, code, account). */
export const view = (page: Page, name: string) => page.locator(`#view-${name}`)

export async function expectView (page: Page, name: string) {
  await view(page, name).waitFor({ state: 'visible', timeout: 10_000 })
}

/** Signs up on the account page (this browser becomes a device the account knows). */
export async function signUp (page: Page, username: string) {
  await page.goto('/account/#signup')
  await expectView(page, 'signup')
  await view(page, 'signup').getByLabel('Username').fill(username)
  await view(page, 'signup').getByLabel('E-mail').fill(`${username}@example.com`)
  await view(page, 'signup').getByLabel('Password', { exact: true }).fill(PASSWORD)
  await view(page, 'signup').getByLabel('Repeat the password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Create account' }).click()
  await expectView(page, 'account')
  await page.locator('#devices > li').first().waitFor()
}

/** Signs in on the account page and waits for the profile. */
export async function signIn (page: Page, username: string, password = PASSWORD) {
  await page.goto('/account/')
  await expectView(page, 'signin')
  await fillSignIn(page, username, password)
  // The profile arrives after the view is shown.
  await page.locator('#profile-username').filter({ hasText: username }).waitFor({ timeout: 10_000 })
}

/** Fills the sign-in form shown and submits it; then the account view. */
export async function fillSignIn (page: Page, username: string, password = PASSWORD) {
  await view(page, 'signin').getByLabel('Username or e-mail').fill(username)
  await view(page, 'signin').getByLabel('Password', { exact: true }).fill(password)
  await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  await expectView(page, 'account')
}

/** Reloads the devices list (a user's "next action") and waits for it to settle. */
export async function reloadDevices (page: Page) {
  const answered = page.waitForResponse((r) => r.url().includes('/api/auth/sessions/'))
  await page.getByRole('button', { name: 'Refresh' }).click()
  await answered
}

export async function checkAxe (t: Test, page: Page, what: string) {
  t.same(await seriousViolations(page), [], `${what}: no serious or critical axe-core violation`)
}
