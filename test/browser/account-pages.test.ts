// The account pages and the browser client in a real browser (headless Chromium): sign up, two
// devices, signing a device out, tabs refreshing at once, a cross-site page trying CSRF, password
// change, the reset link from the .eml file, deletion; axe-core on every page, phone width.
import { createServer, type Server } from 'node:http'
import t from 'tap'
import type { BrowserContext, Page, Response } from 'playwright-core'
import { PASSWORD, uniqueName } from '../helper.js'
import { sparePort } from '../support/servers.js'
import { checkAxe, expectView, linkFromMail, mailCount, reloadDevices, signIn, signUp, site, view, type Site } from '../support/browser.js'

t.setTimeout(150_000)

// The page's globals, in the functions evaluated in the browser (the project's types have no DOM).
declare const document: {
  cookie: string
  title: string
  activeElement: { id: string } | null
  documentElement: { scrollWidth: number; clientWidth: number }
}

const notice = (page: Page) => page.locator('#notice')
const devices = (page: Page) => page.locator('#devices > li')

async function refreshCookie (context: BrowserContext) {
  return (await context.cookies()).find((c) => c.name === 'refresh_token')
}

t.test('the account pages in Chromium', async (t) => {
  const s: Site = await site(t)
  const username = uniqueName('web')
  const email = `${username}@example.com`

  const a = await s.device()
  const pageA = await a.newPage()

  await t.test('the pages are sent with a strict CSP and never framed', async (t) => {
    const res = (await pageA.goto('/account/')) as Response
    const headers = res.headers()
    t.match(headers['content-security-policy'], /default-src 'self'/)
    t.notMatch(headers['content-security-policy'], /unsafe-inline|unsafe-eval/)
    t.equal(headers['x-frame-options'], 'DENY')
    await expectView(pageA, 'signin')
    await checkAxe(t, pageA, 'sign in')
    // Nothing was loaded from anywhere else.
    const loaded = await pageA.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name))
    t.ok(loaded.length > 0 && loaded.every((u) => u.startsWith(s.origin)), 'every resource comes from the service')
  })

  await t.test('sign up: the account view, with the refresh token in an HttpOnly cookie only', async (t) => {
    await pageA.getByRole('link', { name: 'Create an account' }).click()
    await expectView(pageA, 'signup')
    await checkAxe(t, pageA, 'sign up')
    // Errors are tied to their fields and announced.
    await view(pageA, 'signup').getByLabel('Username').fill(username)
    await view(pageA, 'signup').getByLabel('E-mail').fill(email)
    await view(pageA, 'signup').getByLabel('Password', { exact: true }).fill('12345678')
    await view(pageA, 'signup').getByLabel('Repeat the password').fill('12345678')
    await pageA.getByRole('button', { name: 'Create account' }).click()
    const password = pageA.locator('#signup-password')
    await pageA.locator('#signup-password-error').waitFor({ state: 'visible' })
    t.equal(await password.getAttribute('aria-invalid'), 'true')
    t.match(await pageA.locator('#signup-password-error').textContent(), /too common|entirely numeric/)
    t.ok(await password.evaluate((el) => el === document.activeElement), 'focus moves to the field in error')
    await checkAxe(t, pageA, 'sign up with errors')

    await password.fill(PASSWORD)
    await view(pageA, 'signup').getByLabel('Repeat the password').fill(PASSWORD)
    await pageA.getByRole('button', { name: 'Create account' }).click()
    await expectView(pageA, 'account')
    t.equal(await pageA.locator('#profile-email').textContent(), email)
    await t.resolves(devices(pageA).first().waitFor())
    t.equal(await devices(pageA).count(), 1)
    const cookie = await refreshCookie(a)
    t.ok(cookie, 'the refresh cookie is set')
    t.equal(cookie?.httpOnly, true)
    t.equal(cookie?.path, '/api/auth/')
    t.equal(cookie?.sameSite, 'Strict')
    t.equal(await pageA.evaluate(() => document.cookie), '', 'no script can read a token')
    await checkAxe(t, pageA, 'account')
  })

  const b = await s.device()
  const pageB = await b.newPage()

  await t.test('two devices: the first sees both and signs the second out; the second is shown the sign-in form at its next action', async (t) => {
    await signIn(pageB, username)
    await reloadDevices(pageA)
    t.equal(await devices(pageA).count(), 2)
    const other = devices(pageA).filter({ hasNot: pageA.locator('.badge-current:visible') })
    t.equal(await other.count(), 1)
    await other.getByRole('button', { name: /Sign out/ }).click()
    await notice(pageA).filter({ hasText: 'is signed out' }).waitFor()
    t.equal(await devices(pageA).count(), 1)

    await pageB.getByRole('button', { name: 'Refresh' }).click()
    await expectView(pageB, 'signin')
    t.match(await notice(pageB).textContent(), /session has ended/)
    t.notOk(await refreshCookie(b), 'the refused cookie was cleared')
  })

  await t.test('two tabs of one browser refreshing at the same moment both stay signed in', async (t) => {
    const tab2 = await a.newPage()
    await tab2.goto('/account/')
    await expectView(tab2, 'account')
    const refreshes: number[] = []
    for (const p of [pageA, tab2]) p.on('response', (r) => { if (r.url().endsWith('/api/auth/refresh/')) refreshes.push(r.status()) })
    // A reload resumes the session through the refresh cookie: both tabs at once, three times.
    for (let i = 0; i < 3; i++) {
      await Promise.all([pageA.reload(), tab2.reload()])
      await Promise.all([expectView(pageA, 'account'), expectView(tab2, 'account')])
    }
    t.ok(refreshes.length >= 3, `every reload resumed through a refresh (one tab's, handed to the other, or both's) (${refreshes.length})`)
    t.same(refreshes.filter((s) => s !== 200), [], 'every refresh answered 200')
    await reloadDevices(pageA)
    await reloadDevices(tab2)
    t.equal(await devices(pageA).count(), 1, 'still one session, alive')
    t.equal(await devices(tab2).count(), 1)
    await tab2.close()
  })

  await t.test('a page of another origin that submits a form and fires credentialed fetches gets nothing done', async (t) => {
    const attackerPort = await sparePort()
    const target = s.origin
    const html = `<!doctype html><title>Win a prize</title>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe>
<form id="f" method="POST" action="${target}/api/auth/logout/" target="sink1" enctype="text/plain"><input name='{"a":"' value='"}'></form>
<form id="g" method="POST" action="${target}/api/auth/refresh/" target="sink2"><input name="refresh" value="x"></form>
<script>
  document.getElementById('f').submit()
  document.getElementById('g').submit()
  const tries = [
    fetch('${target}/api/auth/refresh/', { method: 'POST', credentials: 'include', mode: 'no-cors' }),
    fetch('${target}/api/auth/logout/', { method: 'POST', credentials: 'include', mode: 'no-cors' }),
    fetch('${target}/api/auth/refresh/', { method: 'POST', credentials: 'include', headers: { 'X-Auth-Mode': 'cookie', 'Content-Type': 'application/json' }, body: '{}' }),
    fetch('${target}/api/auth/logout/all/', { method: 'POST', credentials: 'include', headers: { 'X-Auth-Mode': 'cookie' } })
  ]
  Promise.allSettled(tries).then((r) => { document.title = 'done ' + r.map((x) => x.status === 'fulfilled' ? x.value.type + ':' + x.value.status : 'blocked').join(',') })
</script>`
    const attacker: Server = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }).end(html) })
    await new Promise<void>((resolve) => attacker.listen(attackerPort, '127.0.0.1', resolve))
    t.teardown(() => new Promise<void>((resolve) => attacker.close(() => resolve())))

    const before = await refreshCookie(a)
    const evil = await a.newPage()
    const reached: Array<{ method: string; url: string; status: number; setCookie: boolean }> = []
    evil.on('response', async (r) => {
      if (!r.url().startsWith(target)) return
      const headers = await r.allHeaders()
      reached.push({ method: r.request().method(), url: r.url().slice(target.length), status: r.status(), setCookie: 'set-cookie' in headers })
    })
    // Another origin of the same site (only the port differs): the SameSite=Strict cookie IS sent
    // with its requests, so what stops them is the CSRF check, not the browser.
    await evil.goto(`http://127.0.0.1:${attackerPort}/`)
    await evil.waitForFunction(() => document.title.startsWith('done'), undefined, { timeout: 10_000 })
    await evil.waitForTimeout(300)
    t.comment(`${await evil.title()}; the service answered: ${JSON.stringify(reached)}`)
    t.ok(reached.length >= 4, 'the two forms and the two no-cors fetches reached the service')
    t.ok(reached.some((r) => r.status === 403), 'the cookie was sent, and the CSRF check refused it')
    for (const r of reached) {
      t.ok(r.status >= 400 || r.method === 'OPTIONS', `${r.method} ${r.url}: refused (${r.status})`)
      t.notOk(r.setCookie, `${r.method} ${r.url}: no cookie set or cleared`)
    }
    t.notOk(reached.some((r) => r.method !== 'OPTIONS' && r.url === '/api/auth/logout/all/'), 'the credentialed CORS request never left the preflight')
    await evil.close()
    t.same((await refreshCookie(a))?.value, before?.value, 'the refresh cookie is untouched')
    await reloadDevices(pageA)
    t.equal(await devices(pageA).count(), 1, 'the session is alive')
    await pageA.reload()
    await expectView(pageA, 'account')
  })

  await t.test('password change keeps this tab signed in and signs the other device out', async (t) => {
    await signIn(pageB, username)
    await reloadDevices(pageA)
    t.equal(await devices(pageA).count(), 2)
    await pageA.getByLabel('Current password').fill('wrong-password')
    await pageA.getByLabel('New password', { exact: true }).fill('An0ther-Passphrase!')
    await pageA.getByLabel('Repeat the new password').fill('An0ther-Passphrase!')
    await pageA.getByRole('button', { name: 'Change password' }).click()
    await pageA.locator('#password-old-error').waitFor({ state: 'visible' })
    t.match(await pageA.locator('#password-old-error').textContent(), /old password was entered incorrectly/)

    await pageA.getByLabel('Current password').fill(PASSWORD)
    await pageA.getByRole('button', { name: 'Change password' }).click()
    await notice(pageA).filter({ hasText: 'password has been changed' }).waitFor()
    t.equal(await devices(pageA).count(), 1, 'only this device is left')
    await reloadDevices(pageB).catch(() => {})
    await expectView(pageB, 'signin')
    await pageA.reload()
    await expectView(pageA, 'account')
  })

  await t.test('the reset link from the .eml file opens the reset page, and the new password signs in', async (t) => {
    const c = await s.device()
    const pageC = await c.newPage()
    await pageC.goto('/account/#forgot')
    await expectView(pageC, 'forgot')
    await checkAxe(t, pageC, 'forgot password')
    const sent = await mailCount(s.env.DATA_DIR!, 'password-reset')
    await view(pageC, 'forgot').getByLabel('E-mail').fill(email)
    await pageC.getByRole('button', { name: 'Send the link' }).click()
    await notice(pageC).filter({ hasText: 'Password reset e-mail has been sent.' }).waitFor()
    const link = await linkFromMail(s.env.DATA_DIR!, 'password-reset', sent)
    t.match(link, `${s.origin}/account/reset/?uid=`)

    await pageC.goto(link)
    await pageC.getByRole('heading', { name: 'Choose a new password' }).waitFor()
    t.equal(new URL(pageC.url()).search, '', 'the token left the address bar')
    await checkAxe(t, pageC, 'reset')
    await pageC.getByLabel('New password', { exact: true }).fill('Th1rd-Passphrase!')
    await pageC.getByLabel('Repeat the new password').fill('Th1rd-Passphrase!x')
    await pageC.getByRole('button', { name: 'Save the new password' }).click()
    await pageC.locator('#reset-new2-error').waitFor({ state: 'visible' })
    await pageC.getByLabel('Repeat the new password').fill('Th1rd-Passphrase!')
    await pageC.getByRole('button', { name: 'Save the new password' }).click()
    await pageC.getByRole('heading', { name: 'Password changed' }).waitFor()
    await checkAxe(t, pageC, 'reset done')

    // The same link again: refused in plain words.
    await pageC.goto(link)
    await pageC.getByLabel('New password', { exact: true }).fill('F0urth-Passphrase!')
    await pageC.getByLabel('Repeat the new password').fill('F0urth-Passphrase!')
    await pageC.getByRole('button', { name: 'Save the new password' }).click()
    await pageC.locator('.form-error').filter({ hasText: 'invalid or has expired' }).waitFor()

    // The reset signed every session out, this tab's included.
    await reloadDevices(pageA).catch(() => {})
    await expectView(pageA, 'signin')
    await signIn(pageC, username, 'Th1rd-Passphrase!')
    await c.close()
  })

  await t.test('the verification link lands on the verify page', async (t) => {
    const pageV = await a.newPage()
    await pageV.goto('/account/verify/?key=not-a-key')
    await pageV.getByRole('heading', { name: 'This link has expired' }).waitFor()
    t.equal(new URL(pageV.url()).search, '', 'the key left the address bar')
    await checkAxe(t, pageV, 'verify')
    await pageV.close()
  })

  await t.test('keyboard only: sign in with Tab and Enter; account deletion', async (t) => {
    await pageA.goto('/account/')
    await expectView(pageA, 'signin')
    await pageA.locator('#signin-title').focus()
    await pageA.keyboard.press('Tab')
    t.equal(await pageA.evaluate(() => document.activeElement?.id), 'signin-username')
    await pageA.keyboard.type(email)
    await pageA.keyboard.press('Tab')
    await pageA.keyboard.type('Th1rd-Passphrase!')
    await pageA.keyboard.press('Enter')
    await expectView(pageA, 'account')
    t.equal(await pageA.evaluate(() => document.activeElement?.id), 'account-title', 'focus moves to the new view')

    await pageA.locator('#delete-password').fill('not-it')
    await pageA.getByRole('button', { name: 'Delete my account' }).click()
    await pageA.locator('#delete-password-error').waitFor({ state: 'visible' })
    await pageA.locator('#delete-password').fill('Th1rd-Passphrase!')
    await pageA.getByRole('button', { name: 'Delete my account' }).click()
    await expectView(pageA, 'signin')
    t.match(await notice(pageA).textContent(), /account has been deleted/)
    t.notOk(await refreshCookie(a))
    await view(pageA, 'signin').getByLabel('Username or e-mail').fill(username)
    await view(pageA, 'signin').getByLabel('Password', { exact: true }).fill('Th1rd-Passphrase!')
    await pageA.getByRole('button', { name: 'Sign in', exact: true }).click()
    await pageA.locator('#signin-form .form-error').filter({ hasText: 'Invalid credentials' }).waitFor()
  })

  await t.test('phone width: nothing wider than the screen, the account view included', async (t) => {
    const phone = await s.device({ width: 375 })
    const page = await phone.newPage()
    await signUp(page, uniqueName('phone'))
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
    t.equal(overflow, 0, 'no horizontal scrolling')
    await checkAxe(t, page, 'account at phone width')
  })
})
