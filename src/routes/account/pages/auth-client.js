// The browser client of the auth service: a plain ES module with no dependencies, served at
// /account/auth-client.js. It uses cookie mode (X-Auth-Mode: cookie): the refresh token lives in
// an HttpOnly cookie no script can read, the access token only in this module's memory.
//
//   import { AuthClient } from 'https://auth.example.com/account/auth-client.js'
//   const auth = new AuthClient()
//   auth.addEventListener('sessionended', () => showSignIn())
//   if (!(await auth.resume())) {
//     const signedIn = await auth.login(username, password)
//     // A user with two-step verification: the second step (a code, or a passkey) finishes it.
//     if (signedIn.mfa_required) await auth.completeLogin(signedIn.ephemeral_token, { code })
//   }
//   await auth.passkeyLogin()   // or: sign in with a passkey alone
//   const res = await auth.fetch('/api/auth/me/')
//
// - Refreshes shortly before the access token expires and when an answer is a 401.
// - Refreshes are serialised across the tabs of the browser with the Web Locks API, and a tab
//   that refreshed hands the new access token to the others (BroadcastChannel), so several tabs
//   never race one refresh cookie and usually refresh once between them.
// - Honours Retry-After on 503 and 429: a refresh waits and tries again instead of ending the
//   session; an API call answered 503 is tried again once when the wait is short.
// - Tells the page when the session has ended (revoked elsewhere, expired, signed out in another
//   tab): the 'sessionended' event. 'signedin' fires when a session starts or resumes; its
//   detail says whether it was a sign-in (`started`) and whether another tab did it (`fromOtherTab`).

const MODE = { 'X-Auth-Mode': 'cookie' }
/** Refresh this long before the access token expires (or a fifth of its life, if shorter). */
const REFRESH_AHEAD_SECONDS = 30
/** The longest Retry-After the client sleeps through on its own. */
const MAX_RETRY_WAIT_SECONDS = 30
/** A refresh that gets no answer this long is given up (it holds every tab's lock meanwhile). */
const REFRESH_TIMEOUT_MS = 10_000
/** setTimeout's longest delay. */
const MAX_DELAY_MS = 2 ** 31 - 1
/** How long a tab that waited for the lock gives the holder's token to arrive (a refresh saved). */
const HANDOFF_WAIT_MS = 50
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** The JSON claims of a JWT (no verification: the server does that; only `exp` is read). */
function claimsOf (token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')))
  } catch {
    return {}
  }
}

/** Retry-After in seconds (a number of seconds or an HTTP date), or null. */
function retryAfterOf (response) {
  const value = response.headers.get('Retry-After')
  if (value === null) return null
  const seconds = /^\d+$/.test(value.trim()) ? Number(value) : (Date.parse(value) - Date.now()) / 1000
  return Number.isFinite(seconds) ? Math.max(0, seconds) : null
}

/** An answer that is not a 2xx, with its status and JSON body (field errors, detail). */
export class AuthError extends Error {
  constructor (status, body, retryAfter = null) {
    super(typeof body?.detail === 'string' ? body.detail : `HTTP ${status}`)
    this.name = 'AuthError'
    this.status = status
    this.body = body ?? {}
    this.retryAfter = retryAfter
  }
}

async function bodyOf (response) {
  const text = await response.text()
  if (!text) return {}
  try {
    return JSON.parse(text)
  } catch {
    return { detail: text }
  }
}

export class AuthClient extends EventTarget {
  /**
   * @param {object} [options]
   * @param {string|URL} [options.baseUrl] the service's address; default: where this module was loaded from
   * @param {string} [options.lockName] the Web Lock (and BroadcastChannel) shared by the tabs
   * @param {typeof fetch} [options.fetch] the fetch to use (tests)
   */
  constructor (options = {}) {
    super()
    this.baseUrl = new URL(options.baseUrl ?? new URL('../', import.meta.url))
    this.lockName = options.lockName ?? `auth-refresh:${this.baseUrl.origin}`
    this._fetch = options.fetch ?? globalThis.fetch.bind(globalThis)
    this._access = null
    this._receivedAt = 0
    this._expiresAt = null
    this._lifetimeMs = 0
    this._timer = null
    this._refreshing = null
    this._channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(this.lockName) : null
    if (this._channel) this._channel.onmessage = (event) => this._onMessage(event.data)
  }

  /** The current access token (in memory only), or null. */
  get accessToken () {
    return this._access
  }

  get signedIn () {
    return this._access !== null
  }

  /** An absolute URL for a path of the API ('/api/auth/me/' or 'api/auth/me/'). */
  url (path) {
    return new URL(String(path).replace(/^\//, ''), this.baseUrl)
  }

  /**
   * Signs in; resolves to the user, or throws an AuthError (401 Invalid credentials, 429, 400).
   * For a user with two-step verification it resolves to `{ mfa_required: true, ephemeral_token,
   * methods }` and stays signed out: completeLogin() (or passkeySecondStep()) finishes it.
   * Under the tabs' lock: no other tab's refresh of the old cookie can answer after the new one is set.
   */
  login (username, password) {
    return this._signIn('api/auth/login/', { username, password })
  }

  /** The second step of a sign-in: `{ code }` (a TOTP or recovery code) or `{ credential }` (a passkey assertion). Resolves to the user. */
  completeLogin (ephemeralToken, second) {
    return this._signIn('api/auth/login/code/', { ephemeral_token: ephemeralToken, ...second })
  }

  /** Signs in with a passkey alone (the browser asks which one). Resolves to the user. */
  async passkeyLogin () {
    const credential = await this._assertion()
    return this._signIn('api/auth/passkeys/login/', { credential })
  }

  /** The second step with a passkey instead of a code. */
  async passkeySecondStep (ephemeralToken) {
    return this.completeLogin(ephemeralToken, { credential: await this._assertion() })
  }

  /** Adds a passkey to the signed-in account (the browser creates it). `code`: the step-up, when needed. Resolves to the passkey. */
  async addPasskey ({ name, code } = {}) {
    const options = await this.json('api/auth/passkeys/register/options/', { method: 'POST', body: code ? { code } : {} })
    const created = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options) })
    return this.json('api/auth/passkeys/register/', { method: 'POST', body: { credential: created.toJSON(), ...(name ? { name } : {}) } })
  }

  /**
   * Creates an account. Resolves to the user; when the service waits for e-mail verification
   * the answer has no tokens and the client stays signed out (`signedIn` tells).
   */
  register (fields) {
    return this._locked(async () => {
      const json = await this._post('api/auth/register/', fields)
      if (json.tokens) this._adopt(this._tokenOf(json, json.tokens.access), true)
      const { tokens, ...user } = json
      return user
    })
  }

  /**
   * Resumes the session kept in the refresh cookie (a page load, a new tab): true when signed in.
   * A tab that already has a valid access token keeps it.
   */
  async resume () {
    if (this._access && !this._expiresSoon()) return true
    return this.refresh()
  }

  /**
   * Refreshes through the cookie, serialised with every other tab. Resolves true when signed in
   * afterwards; false when there is no session ('sessionended' fires if this tab had one).
   */
  refresh () {
    // One refresh per tab at a time; callers during it share its outcome.
    if (!this._refreshing) {
      this._refreshing = this._refreshAcrossTabs().finally(() => {
        this._refreshing = null
      })
    }
    return this._refreshing
  }

  /**
   * fetch() for the API with the access token: refreshes first when it is about to expire, and
   * once more on a 401 before trying again; a 503 with a short Retry-After is tried again once.
   * Resolves to the Response (the caller reads its status), like fetch.
   */
  async fetch (path, init = {}) {
    if (this._access && this._expiresSoon()) await this.refresh()
    let response = await this._authorized(path, init)
    if (response.status === 401 && this._access !== null) {
      if (await this.refresh()) response = await this._authorized(path, init)
    }
    if (response.status === 503) {
      const wait = retryAfterOf(response)
      if (wait !== null && wait <= MAX_RETRY_WAIT_SECONDS) {
        await sleep(wait * 1000)
        response = await this._authorized(path, init)
      }
    }
    return response
  }

  /** fetch() that resolves to the JSON body of a 2xx, or throws an AuthError. */
  async json (path, init = {}) {
    const headers = { ...(init.body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...init.headers }
    const body = init.body !== undefined && typeof init.body !== 'string' ? JSON.stringify(init.body) : init.body
    const response = await this.fetch(path, { ...init, headers, body })
    const json = await bodyOf(response)
    if (!response.ok) throw new AuthError(response.status, json, retryAfterOf(response))
    return json
  }

  /**
   * Signs this browser out: the cookie's session is revoked and the cookie cleared. Throws an
   * AuthError when the service could not do it (503, no network): the session may still be alive.
   */
  logout () {
    return this._locked(async () => {
      if (this._access === null) return
      // An expired token first gets a new one (unless the session is already over).
      if (this._expiresSoon() && !(await this._refreshNow())) return
      const res = await this._authorized('api/auth/logout/', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })
      // 400 and 401: the session was over already. Anything else but a 2xx: it may be alive.
      if (!res.ok && res.status !== 400 && res.status !== 401) throw new AuthError(res.status, await bodyOf(res), retryAfterOf(res))
      this._end('signedout', true)
    })
  }

  /** Signs every session out (or every other one, with `exceptCurrent`). */
  async logoutAll ({ exceptCurrent = false } = {}) {
    const result = await this.json('api/auth/logout/all/', { method: 'POST', body: exceptCurrent ? { except_current: true } : {} })
    if (!exceptCurrent) this._end('signedout', true)
    return result
  }

  /** Forgets the session in this tab and the others, after the account is gone (deletion). */
  forget () {
    this._end('signedout', true)
  }

  // ---- internals

  /** A sign-in's answer: a session (adopted), or the first step's mfa_required (returned as it is). */
  _signIn (path, payload) {
    return this._locked(async () => {
      const json = await this._post(path, payload)
      if (json.mfa_required === true) return json
      this._adopt(this._tokenOf(json, json.access), true)
      return json.user
    })
  }

  /** A passkey assertion for fresh request options (the browser asks the user). */
  async _assertion () {
    const options = await this._post('api/auth/passkeys/login/options/', {})
    const credential = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) })
    return credential.toJSON()
  }

  _authorized (path, init) {
    const headers = new Headers(init.headers)
    for (const [name, value] of Object.entries(MODE)) headers.set(name, value)
    if (this._access && !headers.has('Authorization')) headers.set('Authorization', `Bearer ${this._access}`)
    return this._fetch(this.url(path), { credentials: 'include', ...init, headers })
  }

  async _post (path, payload) {
    const response = await this._fetch(this.url(path), {
      method: 'POST',
      credentials: 'include',
      headers: { 'Content-Type': 'application/json', ...MODE },
      body: JSON.stringify(payload)
    })
    const json = await bodyOf(response)
    if (!response.ok) throw new AuthError(response.status, json, retryAfterOf(response))
    return json
  }

  /** Runs `work` holding the lock the tabs share (Web Locks; alone, without them). */
  _locked (work) {
    return globalThis.navigator?.locks ? navigator.locks.request(this.lockName, work) : work()
  }

  /** The access token of a sign-in's answer, or an AuthError (an answer without one). */
  _tokenOf (json, access) {
    if (typeof access !== 'string') throw new AuthError(200, json)
    return access
  }

  /** When this tab should refresh: some seconds before the token expires, by this browser's clock. */
  _refreshAt () {
    if (this._expiresAt === null) return Infinity
    return this._expiresAt - Math.min(REFRESH_AHEAD_SECONDS * 1000, this._lifetimeMs / 5)
  }

  _expiresSoon () {
    return Date.now() >= this._refreshAt()
  }

  async _refreshAcrossTabs () {
    const started = Date.now()
    return this._locked(async () => {
      // Another tab held the lock: its new token may still be on its way over the channel.
      if (Date.now() - started > 10) await sleep(HANDOFF_WAIT_MS)
      // Another tab refreshed while this one waited for the lock: its token is this one's too.
      if (this._access && this._receivedAt > started && !this._expiresSoon()) return true
      return this._refreshNow()
    })
  }

  async _refreshNow () {
    for (let attempt = 0; ; attempt++) {
      let response
      try {
        response = await this._fetch(this.url('api/auth/refresh/'), {
          method: 'POST',
          credentials: 'include',
          headers: { 'Content-Type': 'application/json', ...MODE },
          body: '{}',
          signal: AbortSignal.timeout(REFRESH_TIMEOUT_MS)
        })
      } catch (err) {
        // No network, or no answer in time: the session may well be alive; the caller may try later.
        if (attempt < 2) {
          await sleep(1000 * (attempt + 1))
          continue
        }
        throw err
      }
      if (response.ok) {
        const { access } = await response.json()
        this._adopt(access, false)
        return true
      }
      if (response.status === 503 || response.status === 429) {
        // Not an answer about the session: wait as told, then try again.
        const wait = retryAfterOf(response) ?? 1
        if (attempt < 3 && wait <= MAX_RETRY_WAIT_SECONDS) {
          await sleep(wait * 1000)
          continue
        }
        throw new AuthError(response.status, await bodyOf(response), wait)
      }
      // 400 (no cookie), 401 (invalid, expired, revoked, reused), 403: there is no session.
      // The cookie is shared by the tabs: the session is over for all of them.
      this._end('sessionended', true)
      return false
    }
  }

  /** A new access token: from a sign-in (`started`), a refresh, or another tab (`fromOtherTab`). */
  _adopt (access, started, fromOtherTab = false) {
    const was = this._access
    this._access = access
    this._receivedAt = Date.now()
    // The token's lifetime, counted on this browser's clock from now: a clock that is off
    // (the server's `exp` read against it) never makes every token look expired.
    const { exp, iat } = claimsOf(access)
    const lifetime = typeof exp === 'number' && typeof iat === 'number' && exp > iat ? (exp - iat) * 1000 : null
    this._lifetimeMs = lifetime ?? 0
    this._expiresAt = lifetime === null ? null : this._receivedAt + lifetime
    this._schedule()
    if (!fromOtherTab) this._channel?.postMessage({ type: 'token', access, started })
    if (started || was === null) this.dispatchEvent(new CustomEvent('signedin', { detail: { started, fromOtherTab } }))
  }

  _schedule () {
    clearTimeout(this._timer)
    const at = this._refreshAt()
    if (at === Infinity) return
    const delay = Math.min(MAX_DELAY_MS, Math.max(0, at - Date.now()))
    this._timer = setTimeout(() => {
      this.refresh().catch(() => this._retryLater())
    }, delay)
  }

  _retryLater () {
    clearTimeout(this._timer)
    this._timer = setTimeout(() => this.refresh().catch(() => this._retryLater()), 5000)
  }

  _onMessage (message) {
    if (message?.type === 'token' && typeof message.access === 'string') {
      this._adopt(message.access, message.started === true, true)
    } else if (message?.type === 'ended' && this._access !== null) {
      this._end(message.reason ?? 'sessionended', false)
    }
  }

  _end (reason, tellOthers) {
    clearTimeout(this._timer)
    const had = this._access !== null
    this._access = null
    this._expiresAt = null
    if (!had) return
    if (tellOthers) this._channel?.postMessage({ type: 'ended', reason })
    this.dispatchEvent(new CustomEvent('sessionended', { detail: { reason } }))
  }
}
