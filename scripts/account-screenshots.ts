// Pictures of the account pages for the README, at desktop and phone width: the sign-in form and
// the account view of a user signed in on two devices, the devices list as a new-device e-mail's
// link opens it, and two-step verification being set up. The service runs on the embedded defaults
// in a temporary folder; the browser is headless Chromium (scripts/screenshot.ts).
// Usage: npm run account:screenshots [out-dir]   (default docs/; CHROMIUM_PATH overrides /usr/bin/chromium)
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../plugins/app/config/index.js'
import { Secret, TOTP } from 'otpauth'
import { TOTP_PARAMS } from '../plugins/app/mfa/index.js'
import { launchChromium, savePng } from './screenshot.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const outDir = resolve(process.argv[2] ?? join(root, 'docs'))
const PASSWORD = 'Correct-Horse-Battery-9'
const PHONE_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1'
const DESKTOP_UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'

/** A port free right now: PUBLIC_URL has to name it before the service starts (CSRF, links). */
const sparePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer().on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

async function signIn (page: Page, username: string) {
  await page.goto('/account/')
  await page.locator('#view-signin').waitFor()
  await page.locator('#signin-username').fill(username)
  await page.locator('#signin-password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  await page.locator('#devices > li').first().waitFor()
}

async function shots (browser: Browser, origin: string, width: number, suffix: string) {
  const username = `ada_${suffix}`
  const phone = await browser.newContext({ baseURL: origin, userAgent: PHONE_UA, viewport: { width: 390, height: 844 } })
  const desk = await browser.newContext({ baseURL: origin, userAgent: DESKTOP_UA, viewport: { width, height: 900 } })
  const page = await desk.newPage()
  await page.goto('/account/')
  await page.locator('#view-signin').waitFor()
  await savePng(page, join(outDir, `account-signin-${suffix}.png`))

  await page.goto('/account/#signup')
  await page.locator('#signup-username').fill(username)
  await page.locator('#signup-email').fill(`${username}@example.com`)
  await page.locator('#signup-password').fill(PASSWORD)
  await page.locator('#signup-password2').fill(PASSWORD)
  await page.getByRole('button', { name: 'Create account' }).click()
  await page.locator('#view-account').waitFor()
  // A second device, so that the list shows what it is for.
  await signIn(await phone.newPage(), username)
  await page.getByRole('button', { name: 'Refresh' }).click()
  await page.locator('#devices > li').nth(1).waitFor()
  await page.evaluate('document.activeElement && document.activeElement.blur()')
  await savePng(page, join(outDir, `account-${suffix}.png`))
  if (suffix === 'desktop') {
    await newDeviceShot(page, username)
    await twoStepShots(page)
  }
  await phone.close()
  await desk.close()
}

/** The devices card as the new-device e-mail's link opens it: the phone's sign-in marked. Only the card. */
async function newDeviceShot (page: Page, username: string) {
  const user = await app.users.findByLogin(username)
  const session = (await app.tokenStore.listSessions(user!.id)).find((x) => x.userAgent === PHONE_UA)
  if (!session) throw new Error('the phone has no session')
  await page.goto(`/account/#session=${session.sid}`)
  await page.locator('#devices > li.device-flagged').waitFor()
  await page.evaluate('document.activeElement && document.activeElement.blur()')
  await page.locator('section.card', { has: page.locator('#devices-title') }).screenshot({ path: join(outDir, 'account-new-device.png') })
}

/** Two-step verification being set up (the QR code), and the recovery codes it answers. Only the card. */
async function twoStepShots (page: Page) {
  const card = page.locator('section.card', { has: page.locator('#mfa-title') })
  await page.getByRole('button', { name: 'Set up an authenticator app' }).click()
  await page.locator('#mfa-qr').waitFor()
  await page.waitForFunction('document.getElementById("mfa-qr").naturalWidth > 0')
  await card.screenshot({ path: join(outDir, 'account-2fa-setup.png') })
  const secret = ((await page.locator('#mfa-secret').textContent()) ?? '').replace(/\s/g, '')
  await page.locator('#mfa-confirm-code').fill(TOTP.generate({ ...TOTP_PARAMS, secret: Secret.fromBase32(secret) }))
  await page.getByRole('button', { name: 'Turn on' }).click()
  await page.locator('#recovery-panel').waitFor()
  await page.evaluate('document.activeElement && document.activeElement.blur()')
  await card.screenshot({ path: join(outDir, 'account-2fa-recovery-codes.png') })
}

const dataDir = await mkdtemp(join(tmpdir(), 'account-shots-'))
const port = await sparePort()
const origin = `http://127.0.0.1:${port}`
const app = await buildApp(
  loadConfig({
    NODE_ENV: 'development',
    LOG_LEVEL: 'error',
    DATA_DIR: dataDir,
    PUBLIC_URL: origin,
    EMAIL_VERIFICATION: 'none',
    JWT_SECRET: randomBytes(32).toString('base64url'),
    PASSWORD_WORKERS: '1'
  })
)
try {
  await app.listen({ host: '127.0.0.1', port })
  const browser = await launchChromium()
  try {
    await shots(browser, origin, 1280, 'desktop')
    await shots(browser, origin, 390, 'phone')
  } finally {
    await browser.close()
  }
  console.log(`account pages: ${['signin-desktop', 'desktop', 'signin-phone', 'phone', 'new-device', '2fa-setup', '2fa-recovery-codes'].map((n) => join(outDir, `account-${n}.png`)).join(', ')}`)
} finally {
  await app.close()
  await rm(dataDir, { recursive: true, force: true })
}
