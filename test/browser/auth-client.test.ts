// The browser client (/account/auth-client.js) in Chromium, against answers the test controls
// (Playwright's request routing), for what the real service rarely does on cue: a 401 answered by
// a refresh and a retry, a 503 or 429 with Retry-After, a refused refresh ending the session in
// every tab, refreshes of several tabs serialised by the Web Lock, the refresh before expiry.
import t from 'tap'
import type { BrowserContext, Page, Route } from 'playwright-core'
import { site } from '../support/browser.js'

t.setTimeout(90_000)

const b64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
/** A token shaped like the service's (the client reads `exp` and `iat` only; it never verifies). */
const jwt = (name: string, ttl = 300, skew = 0) => {
  const now = Math.floor(Date.now() / 1000) + skew
  return `${b64url({ alg: 'HS256' })}.${b64url({ token_type: 'access', name, iat: now, exp: now + ttl })}.sig`
}
/** The `name` of the token a request carries as Bearer, or '-'. */
const nameOf = (authorization = '') =>
  authorization.startsWith('Bearer ') ? (JSON.parse(Buffer.from(authorization.split('.')[1]!, 'base64url').toString()) as { name: string }).name : '-'
const json = (route: Route, status: number, body: unknown, headers: Record<string, string> = {}) =>
  route.fulfill({ status, contentType: 'application/json', body: JSON.stringify(body), headers })

// The functions below run in the page: the client module is imported from the service, and the
// page keeps it (and what it reports) on globalThis.
interface Harness {
  client: {
    login(u: string, p: string): Promise<unknown>
    fetch(path: string): Promise<{ status: number }>
    refresh(): Promise<boolean>
    logout(): Promise<void>
    resume(): Promise<boolean>
    accessToken: string | null
    signedIn: boolean
    addEventListener(type: string, fn: (e: { detail?: unknown }) => void): void
  }
  events: string[]
}
declare const globalThis: { harness: Harness }

async function harness (context: BrowserContext, origin: string): Promise<Page> {
  const page = await context.newPage()
  await page.route(`${origin}/harness`, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>harness</title>' }))
  await page.goto(`${origin}/harness`)
  await page.evaluate(async (url) => {
    const { AuthClient } = await import(url)
    const client = new AuthClient()
    const events: string[] = []
    for (const type of ['signedin', 'sessionended']) client.addEventListener(type, (e: { detail?: { reason?: string } }) => events.push(`${type}${e.detail?.reason ? `:${e.detail.reason}` : ''}`))
    globalThis.harness = { client, events }
  }, `${origin}/account/auth-client.js`)
  return page
}

t.test('the browser client', async (t) => {
  const s = await site(t)
  const origin = s.origin

  t.test('a 401 is answered by one refresh and the call tried again with the new token', async (t) => {
    const context = await s.device()
    t.teardown(() => context.close())
    const seen: string[] = []
    await context.route(`${origin}/api/**`, async (route) => {
      const path = new URL(route.request().url()).pathname
      const token = nameOf(route.request().headers().authorization)
      seen.push(`${path} ${token} ${route.request().headers()['x-auth-mode']}`)
      if (path === '/api/auth/login/') return json(route, 200, { access: jwt('first'), user: { username: 'ada' } })
      if (path === '/api/auth/refresh/') return json(route, 200, { access: jwt('second') })
      if (token === 'first') return json(route, 401, { detail: 'Given token not valid for any token type' })
      return json(route, 200, { message: 'ok' })
    })
    const page = await harness(context, origin)
    const status = await page.evaluate(async () => {
      await globalThis.harness.client.login('ada', 'pw')
      return (await globalThis.harness.client.fetch('/api/protected-endpoint/')).status
    })
    t.equal(status, 200)
    t.same(seen, [
      '/api/auth/login/ - cookie',
      '/api/protected-endpoint/ first cookie',
      '/api/auth/refresh/ - cookie', // the cookie is the credential: no Bearer
      '/api/protected-endpoint/ second cookie'
    ])
    t.same(await page.evaluate(() => globalThis.harness.events), ['signedin'])
  })

  t.test('503 and 429 on refresh: the client waits Retry-After and tries again, the session is not ended', async (t) => {
    const context = await s.device()
    t.teardown(() => context.close())
    const at: number[] = []
    await context.route(`${origin}/api/auth/refresh/`, async (route) => {
      at.push(Date.now())
      if (at.length === 1) return json(route, 503, { detail: 'Service temporarily unavailable.' }, { 'Retry-After': '1' })
      if (at.length === 2) return json(route, 429, { detail: 'Request was throttled. Expected available in 1 seconds.' }, { 'Retry-After': '1' })
      return json(route, 200, { access: jwt('after-wait') })
    })
    const page = await harness(context, origin)
    t.equal(await page.evaluate(() => globalThis.harness.client.resume()), true)
    t.equal(at.length, 3)
    t.ok(at[1]! - at[0]! >= 950 && at[2]! - at[1]! >= 950, `each retry waited Retry-After (${at[1]! - at[0]!} ms, ${at[2]! - at[1]!} ms)`)
    t.same(await page.evaluate(() => globalThis.harness.events), ['signedin'])
  })

  t.test('a refused refresh ends the session, in this tab and in the others of the browser', async (t) => {
    const context = await s.device()
    t.teardown(() => context.close())
    let refused = false
    await context.route(`${origin}/api/auth/refresh/`, (route) =>
      refused ? json(route, 401, { detail: 'Token is blacklisted', code: 'token_not_valid' }) : json(route, 200, { access: jwt('alive') }))
    const [one, two] = [await harness(context, origin), await harness(context, origin)]
    t.equal(await one.evaluate(() => globalThis.harness.client.resume()), true)
    t.equal(await two.evaluate(() => globalThis.harness.client.resume()), true)
    refused = true
    t.equal(await one.evaluate(() => globalThis.harness.client.refresh()), false)
    await two.waitForFunction(() => globalThis.harness.events.includes('sessionended:sessionended'))
    t.same(await one.evaluate(() => [globalThis.harness.client.signedIn, globalThis.harness.events]), [false, ['signedin', 'sessionended:sessionended']])
    t.equal(await two.evaluate(() => globalThis.harness.client.accessToken), null, 'the other tab forgot its token too')
  })

  t.test('tabs refreshing at the same moment take turns (Web Locks), and a tab that waited uses the token the other got', async (t) => {
    const context = await s.device()
    t.teardown(() => context.close())
    let inFlight = 0
    let most = 0
    let calls = 0
    await context.route(`${origin}/api/auth/refresh/`, async (route) => {
      calls++
      most = Math.max(most, ++inFlight)
      await new Promise((resolve) => setTimeout(resolve, 300))
      inFlight--
      await json(route, 200, { access: jwt(`token-${calls}`) })
    })
    const tabs = [await harness(context, origin), await harness(context, origin), await harness(context, origin)]
    const results = await Promise.all(tabs.map((tab) => tab.evaluate(() => globalThis.harness.client.refresh())))
    t.same(results, [true, true, true])
    t.equal(most, 1, 'never two refreshes at once')
    // The hand-over is an optimisation (a second refresh would be as correct): most runs see 1.
    t.ok(calls < tabs.length, `the tabs that waited took another's token instead of refreshing again (${calls} refreshes for ${tabs.length} tabs)`)
    const tokens = await Promise.all(tabs.map((tab) => tab.evaluate(() => globalThis.harness.client.accessToken)))
    t.equal(new Set(tokens).size, 1, 'every tab holds the same access token')
  })

  t.test('the access token is refreshed shortly before it expires, without a call failing first', async (t) => {
    const context = await s.device()
    t.teardown(() => context.close())
    const at: number[] = []
    await context.route(`${origin}/api/auth/refresh/`, (route) => {
      at.push(Date.now())
      return json(route, 200, { access: jwt(`short-${at.length}`, at.length === 1 ? 3 : 300) })
    })
    const page = await harness(context, origin)
    const start = Date.now()
    t.equal(await page.evaluate(() => globalThis.harness.client.resume()), true)
    // A 3 s token is refreshed a fifth of its life early (about 2.4 s after it was issued).
    await page.waitForFunction(() => (globalThis.harness.client.accessToken ?? '').includes('.'), undefined, { timeout: 1000 })
    await new Promise((resolve) => setTimeout(resolve, 3200))
    t.equal(at.length, 2, 'one refresh ahead of the expiry')
    t.ok(at[1]! - start < 3000, `before the token expired (${at[1]! - start} ms)`)
  })

  t.test('a browser clock an hour off: the token lives its lifetime on this clock, no refresh loop', async (t) => {
    const context = await s.device()
    t.teardown(() => context.close())
    let calls = 0
    // Tokens issued by a server whose clock is an hour behind the browser's.
    await context.route(`${origin}/api/auth/refresh/`, (route) => json(route, 200, { access: jwt(`skewed-${++calls}`, 300, -3600) }))
    const page = await harness(context, origin)
    t.equal(await page.evaluate(() => globalThis.harness.client.resume()), true)
    await new Promise((resolve) => setTimeout(resolve, 1500))
    t.equal(calls, 1, 'one refresh, not one per tick')
    t.equal(await page.evaluate(() => globalThis.harness.client.resume()), true, 'and the token is taken as fresh')
    t.equal(calls, 1)
  })

  t.test('a sign-out the service could not do (503) says so and keeps the session; one it did ends it', async (t) => {
    const context = await s.device()
    t.teardown(() => context.close())
    let down = true
    await context.route(`${origin}/api/auth/refresh/`, (route) => json(route, 200, { access: jwt('alive') }))
    await context.route(`${origin}/api/auth/logout/`, (route) =>
      down ? json(route, 503, { detail: 'Service temporarily unavailable.' }, { 'Retry-After': '1' }) : json(route, 200, { message: 'Successfully logged out' }))
    const page = await harness(context, origin)
    await page.evaluate(() => globalThis.harness.client.resume())
    const failed = await page.evaluate(() => globalThis.harness.client.logout().then(() => 'resolved', (e: { status: number }) => `rejected ${e.status}`))
    t.equal(failed, 'rejected 503')
    t.equal(await page.evaluate(() => globalThis.harness.client.signedIn), true, 'still signed in')
    down = false
    await page.evaluate(() => globalThis.harness.client.logout())
    t.same(await page.evaluate(() => [globalThis.harness.client.signedIn, globalThis.harness.events]), [false, ['signedin', 'sessionended:signedout']])
  })
})
