// Two-step verification and passkeys on the account pages, in headless Chromium with the DevTools
// protocol's virtual authenticator (ctap2, internal transport, resident keys, user verification):
// set up TOTP with its QR code and recovery codes, add a passkey (with a step-up code), sign out,
// sign in with the passkey alone, use it as the second step after a password, sign in with a code,
// refuse a cloned credential whose counter went back, delete the passkey.
import t from 'tap'
import type { BrowserContext, CDPSession, Page } from 'playwright-core'
import { Secret, TOTP } from 'otpauth'
import { PASSWORD, register } from '../helper.js'
import { checkAxe, expectView, newestMail, site, view, type Site } from '../support/browser.js'
import { TOTP_PARAMS } from '../../plugins/app/mfa/index.js'

t.setTimeout(150_000)

/** A virtual platform authenticator on the page's browser context (each context: its own). */
async function virtualAuthenticator (page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true }
  })
  return { cdp, authenticatorId }
}

t.test('two-step verification and passkeys on the account pages (Chromium, virtual authenticator)', async (t) => {
  const s: Site = await site(t, 'embedded', {}, 'localhost')
  const { app } = s
  // The service's TOTP clock, moved a step for every code, so that the replay guard never refuses one of ours.
  let clock = Date.now()
  app.mfa.now = () => clock
  let secret = ''
  const nextCode = () => {
    clock += 30_000
    return TOTP.generate({ ...TOTP_PARAMS, secret: Secret.fromBase32(secret), timestamp: clock })
  }
  const user = await register(app)
  const newestAmr = async () => (await app.tokenStore.listSessions(user.id)).sort((a, b) => b.created - a.created)[0]?.amr

  const context: BrowserContext = await s.device()
  const page = await context.newPage()
  const { cdp, authenticatorId } = await virtualAuthenticator(page)

  const signInWithPassword = async () => {
    await page.goto('/account/')
    await expectView(page, 'signin')
    await view(page, 'signin').getByLabel('Username or e-mail').fill(user.username)
    await view(page, 'signin').getByLabel('Password', { exact: true }).fill(PASSWORD)
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  }
  const signOut = async () => {
    await page.locator('#sign-out').click()
    await expectView(page, 'signin')
  }

  await t.test('set up an authenticator app: the QR code, a code, the recovery codes shown once', async (t) => {
    await signInWithPassword()
    await expectView(page, 'account')
    await page.locator('#mfa-status').filter({ hasText: 'Off.' }).waitFor()
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click()
    await page.locator('#mfa-setup-panel').waitFor({ state: 'visible' })
    t.match(await page.locator('#mfa-qr').getAttribute('src'), /^data:image\/svg\+xml/, 'the QR code is an image of the SVG')
    t.ok(await page.locator('#mfa-qr').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth > 0), 'and it renders')
    secret = ((await page.locator('#mfa-secret').textContent()) ?? '').replace(/\s/g, '')
    t.match(secret, /^[A-Z2-7]{32}$/)
    await checkAxe(t, page, 'setup')
    await page.getByLabel('Code from the app').fill('000000')
    await page.getByRole('button', { name: 'Turn on' }).click()
    await page.locator('#mfa-confirm-code-error').filter({ hasText: 'Invalid code.' }).waitFor()
    await page.getByLabel('Code from the app').fill(nextCode())
    await page.getByRole('button', { name: 'Turn on' }).click()
    await page.locator('#recovery-panel').waitFor({ state: 'visible' })
    const codes = await page.locator('#recovery-codes li').allTextContents()
    t.equal(codes.length, 10)
    t.match(await page.locator('#recovery-download').getAttribute('href'), /^blob:/, 'a download of the codes')
    t.match(await page.locator('#mfa-status').textContent(), /On: .* 10 recovery codes left/)
    await checkAxe(t, page, 'recovery codes')
    await page.getByRole('button', { name: 'I have saved them' }).click()
    t.equal(await page.locator('#recovery-codes li').count(), 0, 'gone from the page')
    t.equal(await page.locator('#passkey-form .step-up').isVisible(), true, 'the step-up code field is offered')
  })

  await t.test('change the e-mail address: the step-up code, then the link to the new address', async (t) => {
    t.equal(await page.locator('#email-form .step-up').isVisible(), true, 'the step-up code field is offered')
    const next = `new-${user.email}`
    await page.getByLabel('New e-mail').fill(next)
    await page.locator('#email-password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Send the link' }).click()
    await page.locator('#email-code-error').filter({ hasText: 'This field is required.' }).waitFor()
    t.equal(await page.locator('#email-code').getAttribute('aria-invalid'), 'true')
    await page.locator('#email-code').fill(nextCode())
    await page.getByRole('button', { name: 'Send the link' }).click()
    await page.locator('#notice').filter({ hasText: `We sent a link to ${next}` }).waitFor()
    const mail = await newestMail(s.env.DATA_DIR!, 'email-change', { to: next })
    t.match(mail.link, `${s.origin}/account/email/?key=`)
  })

  let credentialId = ''
  await t.test('add a passkey: the step-up code, then the browser creates it', async (t) => {
    await page.getByLabel('Name (optional)').fill('Laptop')
    await page.getByRole('button', { name: 'Add a passkey' }).click()
    await page.locator('#passkey-code-error').filter({ hasText: 'This field is required.' }).waitFor()
    t.equal((await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials.length, 0, 'refused before the browser made a credential')
    await page.locator('#passkey-code').fill(nextCode())
    await page.getByRole('button', { name: 'Add a passkey' }).click()
    await page.locator('#passkeys .passkey-name').filter({ hasText: 'Laptop' }).waitFor()
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId })
    t.equal(credentials.length, 1)
    t.equal(credentials[0]!.isResidentCredential, true, 'a discoverable credential')
    credentialId = credentials[0]!.credentialId
    t.match(await page.locator('#mfa-status').textContent(), /On:/)
    await checkAxe(t, page, 'passkeys')
  })

  await t.test('sign out, then sign in with the passkey alone', async (t) => {
    await signOut()
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click()
    await expectView(page, 'account')
    t.same(await newestAmr(), ['hwk', 'mfa'])
    await page.locator('#passkeys .device-meta').filter({ hasText: 'last used' }).waitFor()
  })

  await t.test('a password, then the passkey as the second step', async (t) => {
    await signOut()
    await signInWithPassword()
    await expectView(page, 'code')
    await checkAxe(t, page, 'the code step')
    await page.getByRole('button', { name: 'Use a passkey' }).click()
    await expectView(page, 'account')
    t.same(await newestAmr(), ['pwd', 'hwk', 'mfa'])
  })

  await t.test('a cloned credential whose counter went back is refused', async (t) => {
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId })
    const original = credentials[0]!
    t.ok(original.signCount >= 2, `the authenticator counted its assertions (${original.signCount})`)
    const clone = await s.device()
    const clonePage = await clone.newPage()
    const copy = await virtualAuthenticator(clonePage)
    await copy.cdp.send('WebAuthn.addCredential', { authenticatorId: copy.authenticatorId, credential: { ...original, signCount: 0 } })
    await clonePage.goto('/account/')
    await expectView(clonePage, 'signin')
    const sessions = (await app.tokenStore.listSessions(user.id)).length
    await clonePage.getByRole('button', { name: 'Sign in with a passkey' }).click()
    await clonePage.locator('#signin-passkey-error').filter({ hasText: 'did not sign you in' }).waitFor()
    t.equal(await view(clonePage, 'signin').isVisible(), true)
    t.equal((await app.tokenStore.listSessions(user.id)).length, sessions, 'no session started')
    await clone.close()
  })

  await t.test('a password and a code from the app; then the passkey deleted (the second factor is recent: no code)', async (t) => {
    await signOut()
    await signInWithPassword()
    await expectView(page, 'code')
    await page.getByLabel('Code', { exact: true }).fill('000000')
    await page.getByRole('button', { name: 'Verify' }).click()
    await page.locator('#code-input-error').filter({ hasText: 'Invalid code.' }).waitFor()
    await page.getByLabel('Code', { exact: true }).fill(nextCode())
    await page.getByRole('button', { name: 'Verify' }).click()
    await expectView(page, 'account')
    t.same(await newestAmr(), ['pwd', 'otp', 'mfa'])
    await page.getByRole('button', { name: 'Delete the passkey Laptop' }).click()
    await page.locator('#notice').filter({ hasText: 'is deleted' }).waitFor()
    t.equal(await page.locator('#passkeys li').count(), 0)
    t.equal(await app.prisma.passkey.count({ where: { userId: user.id } }), 0)
    t.ok(credentialId)
    // The browser still holds the credential; the service no longer knows it.
    await signOut()
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click()
    await page.locator('#signin-passkey-error').filter({ hasText: 'did not sign you in' }).waitFor()
  })

  await t.test('a phone-sized screen: the setup fits', async (t) => {
    const phone = await s.device({ width: 380 })
    const small = await phone.newPage()
    await small.goto('/account/')
    await expectView(small, 'signin')
    const fits = await small.evaluate(() => {
      const root = (globalThis as unknown as { document: { documentElement: { scrollWidth: number; clientWidth: number } } }).document.documentElement
      return root.scrollWidth <= root.clientWidth
    })
    t.ok(fits, 'no horizontal scrolling')
    await phone.close()
  })
})
