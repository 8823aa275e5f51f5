// Headless Chromium for the documentation's pictures: Debian's `chromium` package driven by
// playwright-core (no browser download), with everything that would reach the network off.
// CHROMIUM_PATH overrides /usr/bin/chromium (apt-get install -y chromium).
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Fails early, before work that would be lost, when there is no browser to take the picture. */
export function requireChromium (): void {
  if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: apt-get install -y chromium (or set CHROMIUM_PATH)`)
}

/** Headless Chromium with nothing reaching the network by itself (the pictures' and the browser tests' browser). */
export function launchChromium (): Promise<Browser> {
  requireChromium()
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
}

/** `fn` with a new page `width` pixels wide (900 high; screenshots take the full page), the browser closed after. */
export async function withPage<T> (width: number, fn: (page: Page) => Promise<T>): Promise<T> {
  const browser = await launchChromium()
  try {
    return await fn(await browser.newPage({ viewport: { width, height: 900 } }))
  } finally {
    await browser.close()
  }
}

/** The whole page as a PNG at `out` (its folder made when missing). */
export async function savePng (page: Page, out: string): Promise<void> {
  await mkdir(dirname(out), { recursive: true })
  await page.screenshot({ path: out, fullPage: true })
}
