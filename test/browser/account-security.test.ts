// The account pages' side of account security, in headless Chromium: the e-mail change form (its
// errors, the link mailed to the new address, the landing page, the notice to the old address),
// and the new-device e-mail's "was this you?" link: the devices list with that session marked,
// whether the page was signed out, signed in, or the session has been signed out since.
import t from 'tap'
import type { Page } from 'playwright-core'
import { PASSWORD, register, uniqueName } from '../helper.js'
import { checkAxe, expectView, fillSignIn, mailCount, newestMail, reloadDevices, signIn, signUp, site, type Site } from '../support/browser.js'

t.setTimeout(150_000)

// The page's globals, in the functions evaluated in the browser (the project's types have no DOM).
declare const document: { activeElement: { id: string } | null }

const FIREFOX_ON_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0'

const notice = (page: Page) => page.locator('#notice')
const flaggedRows = (page: Page) => page.locator('#devices > li.device-flagged')
const flaggedNote = (page: Page) => page.locator('#devices-flagged')

t.test('e-mail change and the new-device link on the account pages (Chromium)', async (t) => {
  const s: Site = await site(t)
  const dataDir = s.env.DATA_DIR!

  await t.test('e-mail change: field errors, the link to the new address, the landing page, the notice to the old one', async (t) => {
    const username = uniqueName('mover')
    const oldEmail = `${username}@example.com`
    const newEmail = `${username}@example.org`
    const other = await register(s.app)
    const a = await s.device()
    const page = await a.newPage()
    await signUp(page, username)
    t.equal(await page.locator('#email-form .step-up').isVisible(), false, 'no code field without a second factor')
    await checkAxe(t, page, 'account with the e-mail form')

    // Another account's address: said under the field, which takes focus.
    await page.getByLabel('New e-mail').fill(other.email)
    await page.locator('#email-password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Send the link' }).click()
    await page.locator('#email-new-error').waitFor({ state: 'visible' })
    t.match(await page.locator('#email-new-error').textContent(), /already exists/)
    t.equal(await page.locator('#email-new').getAttribute('aria-invalid'), 'true')
    t.equal(await page.evaluate(() => document.activeElement?.id), 'email-new', 'focus moves to the field in error')
    await checkAxe(t, page, 'e-mail form with an error')

    // A wrong password: said under the password, and nothing is sent.
    const sent = await mailCount(dataDir, 'email-change')
    await page.getByLabel('New e-mail').fill(newEmail)
    await page.locator('#email-password').fill('not-my-password')
    await page.getByRole('button', { name: 'Send the link' }).click()
    await page.locator('#email-password-error').filter({ hasText: 'Your password was entered incorrectly.' }).waitFor()
    t.equal(await page.locator('#email-new-error').isVisible(), false, 'the earlier error is gone')
    t.equal(await mailCount(dataDir, 'email-change'), sent, 'no link was mailed')

    await page.locator('#email-password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Send the link' }).click()
    await notice(page).filter({ hasText: `We sent a link to ${newEmail}` }).waitFor()
    t.match(await notice(page).textContent(), `until then it stays ${oldEmail}`)
    t.equal(await page.locator('#email-new').inputValue(), '', 'the form is emptied')
    t.equal(await page.locator('#email-password').inputValue(), '')
    t.equal(await page.locator('#profile-email').textContent(), oldEmail, 'nothing changed yet')
    const mail = await newestMail(dataDir, 'email-change', { after: sent, to: newEmail })
    t.equal(mail.to, newEmail, 'the link goes to the new address')
    t.equal(await mailCount(dataDir, 'email-change'), sent + 1, 'one link in all')
    t.match(mail.link, `${s.origin}/account/email/?key=`)

    // The link, opened in another browser (no session needed): the address changes.
    const noticesBefore = await mailCount(dataDir, 'security-notice')
    const c = await s.device()
    const landing = await c.newPage()
    await landing.goto(mail.link!)
    await landing.getByRole('heading', { name: 'E-mail address changed' }).waitFor()
    t.equal(new URL(landing.url()).search, '', 'the key left the address bar')
    t.match(await landing.locator('#email-message').textContent(), newEmail)
    t.equal(await landing.evaluate(() => document.activeElement?.id), 'email-title', 'focus on the outcome')
    await checkAxe(t, landing, 'e-mail change landing page')
    // The old address is told, and given no link that signs in.
    const told = await newestMail(dataDir, 'security-notice', { after: noticesBefore, to: oldEmail })
    t.equal(told.subject, 'Your e-mail address was changed')
    t.match(told.text, newEmail)
    t.notMatch(told.text, /key=|token=|uid=/)

    // The same link again: refused in plain words.
    await landing.goto(mail.link!)
    await landing.getByRole('heading', { name: 'This link has expired' }).waitFor()
    await c.close()

    // The account page shows the new, verified address.
    await page.reload()
    await expectView(page, 'account')
    await page.locator('#profile-email').filter({ hasText: newEmail }).waitFor()
    t.equal(await page.locator('#profile-verified').textContent(), 'Verified')
    await a.close()
  })

  await t.test('"was this you?": the new-device e-mail links to the devices list with that sign-in marked', async (t) => {
    const username = uniqueName('seen')
    const a = await s.device()
    const pageA = await a.newPage()
    await signUp(pageA, username)

    // A sign-in from another browser: a new device, so an e-mail.
    const before = await mailCount(dataDir, 'security-notice')
    const b = await s.device({ userAgent: FIREFOX_ON_WINDOWS })
    const pageB = await b.newPage()
    await signIn(pageB, username)
    const mail = await newestMail(dataDir, 'security-notice', { after: before, to: `${username}@example.com` })
    t.equal(mail.subject, 'New sign-in to your account')
    t.match(mail.text, 'Device: Firefox on Windows')
    const userId = (await s.app.users.findByLogin(username))!.id
    const sessions = await s.app.tokenStore.listSessions(userId)
    const newest = sessions.sort((x, y) => y.created - x.created)[0]!
    t.equal(mail.link, `${s.origin}/account/#session=${newest.sid}`, 'the link names the new sign-in, in the fragment only')

    // Opened in a browser that is signed out: the sign-in form first, then the list, marked.
    const c = await s.device()
    const pageC = await c.newPage()
    await pageC.goto(mail.link!)
    await expectView(pageC, 'signin')
    t.match(await notice(pageC).textContent(), /Sign in to see your signed-in devices/)
    await fillSignIn(pageC, username)
    await flaggedRows(pageC).waitFor()
    t.equal(await flaggedRows(pageC).count(), 1, 'one sign-in is marked')
    t.match(await flaggedRows(pageC).locator('.device-label').textContent(), 'Firefox on Windows')
    t.equal(await flaggedRows(pageC).locator('.badge-flagged').isVisible(), true, 'with a badge, not only a colour')
    t.equal(await flaggedRows(pageC).locator('.badge-current').isVisible(), false, 'it is not this browser')
    t.match(await flaggedNote(pageC).textContent(), /marked below\. If it was not you, sign that device out/)
    t.equal(await pageC.evaluate(() => document.activeElement?.id), 'devices-flagged', 'focus goes to what is said about it')
    t.match(await flaggedRows(pageC).getByRole('button').getAttribute('aria-label'), /Firefox on Windows.*the sign-in from the e-mail$/)
    t.equal(await pageC.locator('#devices > li').count(), 3, 'the other sign-ins are listed unmarked')
    await checkAxe(t, pageC, 'devices with a marked sign-in')

    // Opened where the account is already open (the fragment changes): marked there too; signed out from there.
    await pageA.goto(mail.link!)
    await flaggedRows(pageA).waitFor()
    t.match(await flaggedRows(pageA).locator('.device-label').textContent(), 'Firefox on Windows')
    await flaggedRows(pageA).getByRole('button', { name: /Sign out this device/ }).click()
    await notice(pageA).filter({ hasText: 'Firefox on Windows is signed out' }).waitFor()
    t.equal(await flaggedRows(pageA).count(), 0, 'the list was reloaded before the notice')
    t.match(await flaggedNote(pageA).textContent(), /no longer signed in/)
    await reloadDevices(pageB).catch(() => {})
    await expectView(pageB, 'signin')

    // The link again, later: nothing to mark, and the page says why.
    await reloadDevices(pageC)
    await flaggedNote(pageC).filter({ hasText: /no longer signed in\. If it was not you, change your password/ }).waitFor()
    t.equal(await flaggedRows(pageC).count(), 0)

    // A session that ends otherwise (revoked from elsewhere) keeps the marker for the next sign-in.
    const d = await s.device({ userAgent: FIREFOX_ON_WINDOWS })
    const pageD = await d.newPage()
    await signIn(pageD, username)
    const dSid = (await s.app.tokenStore.listSessions(userId)).sort((x, y) => y.created - x.created)[0]!.sid
    await pageC.goto(`/account/#session=${dSid}`)
    await flaggedRows(pageC).waitFor()
    // Every session but D's is revoked (an administrator, say): C's page ends at its next action.
    for (const other of await s.app.tokenStore.listSessions(userId)) {
      if (other.sid !== dSid) await s.app.tokenStore.revokeSession({ userId, sid: other.sid })
    }
    await reloadDevices(pageC).catch(() => {})
    await expectView(pageC, 'signin')
    await fillSignIn(pageC, username)
    await flaggedRows(pageC).waitFor()
    t.equal(await pageC.evaluate(() => document.activeElement?.id), 'devices-flagged', 'marked again after signing in, and pointed to')
    await d.close()

    // Signing out forgets it: the next sign-in in this browser marks nothing.
    await pageC.locator('#sign-out').click()
    await expectView(pageC, 'signin')
    t.equal(new URL(pageC.url()).hash, '', 'the fragment is gone')
    await fillSignIn(pageC, username)
    await pageC.locator('#devices > li').first().waitFor()
    t.equal(await flaggedNote(pageC).isVisible(), false, 'nothing is said about the e-mail')
    await Promise.all([a.close(), b.close(), c.close()])
  })
})
