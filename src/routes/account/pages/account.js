// The account page: sign in, sign up and the reset request while signed out; the profile, e-mail
// change, the signed-in devices (the one a new-device e-mail is about marked), password change,
// sign out everywhere and deletion while signed in. Every call
// goes through the browser client (cookie mode), which keeps the session across reloads and tabs
// and says when it has ended, wherever that happened.
import { AuthClient, AuthError } from './auth-client.js'
import { security } from './security.js'
import { byId, clearErrors, deviceName, onSubmit, say, when } from './ui.js'

const auth = new AuthClient()
const VIEWS = ['loading', 'signin', 'code', 'signup', 'forgot', 'account']
const TITLES = { loading: 'Your account', signin: 'Sign in', code: 'Two-step verification', signup: 'Create your account', forgot: 'Reset your password', account: 'Your account' }
const notice = byId('notice')
// Failures of the signed-in forms are not shown once the session has ended (the sign-in form is).
const whileSignedIn = { showFailures: () => auth.signedIn }
const second = security(auth, notice, whileSignedIn)
const passkeys = Boolean(window.PublicKeyCredential?.parseRequestOptionsFromJSON)
/** The first step of a sign-in that asked for a second one: its ephemeral token and methods. */
let pending = null

/** The session named by a new-device e-mail's link (/account/#session=<id>), if any. */
function sessionInAddress () {
  return /^#session=([A-Za-z0-9_-]{1,64})$/.exec(location.hash)?.[1] ?? null
}
/**
 * That session, marked in the devices list until the user signs out here or someone signs in from
 * another tab (maybe as someone else); a session that ends otherwise keeps it for the next sign-in.
 * `pointed`: focus went to what is said about it, once per sign-in.
 */
let flagged = sessionInAddress()
let pointed = false
const FLAGGED_SIGN_IN = 'Sign in to see your signed-in devices: the sign-in the e-mail is about will be marked.'

/** Shows one view, titles the document after it, and moves focus to its heading. */
function show (view, message) {
  for (const name of VIEWS) byId(`view-${name}`).hidden = name !== view
  byId('user-menu').hidden = view !== 'account'
  document.title = `${TITLES[view]} · Account`
  say(notice, message)
  if (view !== 'loading') byId(`${view === 'account' ? 'account' : view}-title`).focus()
}

/** The signed-out view named by the address (#signup, #forgot), sign-in otherwise. */
function signedOutView (message) {
  const wanted = location.hash.slice(1)
  show(['signup', 'forgot'].includes(wanted) ? wanted : 'signin', message)
}

window.addEventListener('hashchange', () => {
  const sid = sessionInAddress()
  if (sid) {
    flagged = sid
    pointed = false
  }
  if (!auth.signedIn) signedOutView(sid ? FLAGGED_SIGN_IN : undefined)
  else if (sid) loadDevices()
})

// Signed in here, or in another tab of this browser: the account view.
// A sign-in (here or in another tab, maybe as someone else) loads the account afresh; a refresh
// handed over by another tab only opens it if this tab was not showing it.
auth.addEventListener('signedin', (event) => {
  // A sign-in in another tab may be someone else's: the e-mail's sign-in is not theirs to see.
  if (event.detail?.started && event.detail.fromOtherTab) flagged = null
  if (event.detail?.started || byId('view-account').hidden) openAccount()
})

auth.addEventListener('sessionended', (event) => {
  const reason = event.detail?.reason
  // Nothing of the account that was shown stays on the page.
  for (const form of document.forms) {
    form.reset()
    clearErrors(form)
  }
  for (const id of ['user-name', 'profile-username', 'profile-name', 'profile-email', 'profile-verified']) byId(id).textContent = ''
  byId('devices').replaceChildren()
  for (const id of ['devices-error', 'profile-error', 'devices-flagged']) say(byId(id), '')
  pointed = false
  if (reason === 'signedout') flagged = null
  second.clear()
  history.replaceState(null, '', location.pathname)
  signedOutView(reason === 'signedout' ? 'You have signed out.' : 'Your session has ended. Please sign in again.')
})

// ---- signed out

onSubmit(byId('signin-form'), async ({ username, password }) => {
  if (!username || !password) {
    throw new AuthError(400, {
      ...(username ? {} : { username: ['Enter your username or e-mail.'] }),
      ...(password ? {} : { password: ['Enter your password.'] })
    })
  }
  // The client's 'signedin' event opens the account view.
  const answer = await auth.login(username, password)
  byId('signin-form').reset()
  if (answer?.mfa_required) askForSecondStep(answer)
})

/** The password was right; a second step finishes the sign-in. */
function askForSecondStep (answer) {
  pending = answer
  byId('code-passkey-box').hidden = !(passkeys && answer.methods.includes('passkey'))
  show('code')
}

/** The second step's answer: an ephemeral token that is no longer good sends the user back to the password. */
function secondStepFailed (err) {
  if (err?.body?.ephemeral_token) {
    pending = null
    show('signin', 'The sign-in took too long or had too many wrong codes. Please sign in again.')
    return true
  }
  return false
}

onSubmit(byId('code-form'), async ({ code }) => {
  if (!pending) return show('signin')
  try {
    await auth.completeLogin(pending.ephemeral_token, { code: code.trim() })
  } catch (err) {
    if (!secondStepFailed(err)) throw err
    return
  }
  pending = null
  byId('code-form').reset()
})

byId('code-passkey').addEventListener('click', async () => {
  if (!pending) return show('signin')
  try {
    await auth.passkeySecondStep(pending.ephemeral_token)
    pending = null
  } catch (err) {
    if (!secondStepFailed(err)) say(byId('code-passkey-error'), 'That passkey did not work. Try again, or enter a code.')
  }
})

byId('code-cancel').addEventListener('click', () => {
  pending = null
})

byId('signin-passkey-box').hidden = !passkeys
byId('signin-passkey').addEventListener('click', async () => {
  const error = byId('signin-passkey-error')
  say(error, '')
  try {
    await auth.passkeyLogin()
  } catch (err) {
    say(error, err?.status === 429 ? 'Too many attempts. Please try again shortly.' : 'That passkey did not sign you in. Try again, or use your password.')
  }
})

onSubmit(byId('signup-form'), async (values) => {
  await auth.register(values)
  byId('signup-form').reset()
  if (auth.signedIn) return say(notice, 'Welcome! Your account is ready.')
  history.replaceState(null, '', location.pathname)
  show('signin', 'Your account is created. Open the link we sent to your e-mail address, then sign in.')
})

onSubmit(byId('forgot-form'), async (values) => {
  const { detail } = await auth.json('api/auth/password/reset/', { method: 'POST', body: values })
  byId('forgot-form').reset()
  say(notice, `${detail} If an account uses that address, the e-mail has a link that works for a limited time.`)
})

// ---- signed in

async function openAccount () {
  show('account')
  await Promise.all([loadProfile(), loadDevices(), second.load()])
}

async function loadProfile () {
  try {
    const user = await auth.json('api/auth/me/')
    byId('user-name').textContent = user.username
    byId('profile-username').textContent = user.username
    byId('profile-name').textContent = [user.first_name, user.last_name].filter(Boolean).join(' ') || '—'
    byId('profile-email').textContent = user.email
    const badge = byId('profile-verified')
    badge.textContent = user.email_verified ? 'Verified' : 'Not verified'
    badge.className = `badge ${user.email_verified ? 'badge-ok' : 'badge-warn'}`
    byId('resend-form').hidden = user.email_verified
    byId('resend-form').dataset.email = user.email
    say(byId('profile-error'), '')
  } catch (err) {
    // A 401 has ended the session (the sign-in form is shown).
    if (!auth.signedIn) return
    say(byId('profile-error'), err?.status === 503 ? 'Your profile is briefly unavailable. Please try again shortly.' : 'Your profile could not be loaded. Please reload the page.')
  }
}

async function loadDevices () {
  const list = byId('devices')
  const error = byId('devices-error')
  try {
    const sessions = await auth.json('api/auth/sessions/')
    say(error, '')
    // This device first, then the others newest first (the API's order).
    const ordered = [...sessions.filter((x) => x.current), ...sessions.filter((x) => !x.current)]
    list.replaceChildren(...ordered.map(deviceRow))
    if (flagged) markFlagged(sessions.find((x) => x.id === flagged))
  } catch (err) {
    if (!auth.signedIn) return
    say(error, err?.status === 503 ? 'The list is briefly unavailable. Please try again shortly.' : 'The list could not be loaded. Please try again.')
  }
}

/**
 * Says where the session of the new-device e-mail is: marked in the list, or no longer signed in.
 * The first time, focus goes to what is said, and the marked row is scrolled into view.
 */
function markFlagged (session) {
  const note = byId('devices-flagged')
  say(note, !session
    ? 'The sign-in from the e-mail is no longer signed in. If it was not you, change your password.'
    : session.current
      ? 'The sign-in from the e-mail is this browser, marked below. If you signed in here, there is nothing to do.'
      : 'The sign-in from the e-mail is marked below. If it was not you, sign that device out, then change your password.')
  if (pointed) return
  pointed = true
  note.focus()
  byId('devices').querySelector('.device-flagged')?.scrollIntoView({ block: 'center' })
}

function deviceRow (session) {
  const row = byId('device-row').content.firstElementChild.cloneNode(true)
  const name = deviceName(session.user_agent)
  row.querySelector('.device-label').textContent = name
  row.querySelector('.badge-current').hidden = !session.current
  const isFlagged = session.id === flagged
  row.querySelector('.badge-flagged').hidden = !isFlagged
  row.classList.toggle('device-flagged', isFlagged)
  const seen = when(session.last_used)
  const since = when(session.created)
  const meta = row.querySelector('.device-meta')
  meta.textContent = `${session.ip || 'Unknown address'} · active ${seen.text} · signed in ${since.text}`
  meta.title = `Last active ${seen.exact}; signed in ${since.exact}`
  const button = row.querySelector('.device-sign-out')
  button.textContent = session.current ? 'Sign out' : 'Sign out this device'
  // The visible words first (what a voice user says), then which device it is.
  const label = session.current ? 'Sign out (this device)' : `Sign out this device: ${name}, ${session.ip || 'unknown address'}, signed in ${since.text}`
  button.setAttribute('aria-label', isFlagged ? `${label}, the sign-in from the e-mail` : label)
  button.addEventListener('click', async () => {
    if (session.current) return signOut()
    button.disabled = true
    try {
      const res = await auth.fetch(`api/auth/sessions/${encodeURIComponent(session.id)}/`, { method: 'DELETE' })
      if (!auth.signedIn) return
      if (res.status !== 204 && res.status !== 404) throw new Error(String(res.status))
      // The list first: when the notice is read, the list no longer shows that device.
      await loadDevices()
      say(notice, `${name} is signed out.`)
      byId('devices-title').focus()
    } catch {
      button.disabled = false
      say(byId('devices-error'), 'That device could not be signed out. Please try again.')
    }
  })
  return row
}

/** Signs this browser out; a failure (the service unavailable) says so, and the session stays. */
async function signOut () {
  try {
    await auth.logout()
  } catch {
    say(notice, 'Signing out did not work just now: you are still signed in. Please try again in a moment.')
  }
}

byId('devices-reload').addEventListener('click', () => loadDevices())
byId('sign-out').addEventListener('click', signOut)

byId('sign-out-everywhere').addEventListener('click', async (event) => {
  const button = event.currentTarget
  button.disabled = true
  try {
    await auth.logoutAll()
  } catch {
    if (auth.signedIn) say(byId('devices-error'), 'Signing out everywhere failed. Please try again.')
  } finally {
    button.disabled = false
  }
})

onSubmit(byId('resend-form'), async () => {
  await auth.json('api/auth/registration/resend-email/', { method: 'POST', body: { email: byId('resend-form').dataset.email } })
  say(notice, 'We sent the verification e-mail again. Open its link to verify your address.')
}, whileSignedIn)

onSubmit(byId('email-form'), async (values) => {
  const next = values.new_email.trim()
  await auth.json('api/auth/email/change/', { method: 'POST', body: second.stepUp({ ...values, new_email: next }) })
  byId('email-form').reset()
  say(notice, `We sent a link to ${next}. Open it to make it your account's address; until then it stays ${byId('profile-email').textContent}.`)
}, whileSignedIn)

onSubmit(byId('password-form'), async (values) => {
  await auth.json('api/auth/password/change/', { method: 'POST', body: second.stepUp(values) })
  byId('password-form').reset()
  // The list first: when the notice is read, the list already shows only this device.
  await loadDevices()
  say(notice, 'Your password has been changed. Your other devices have been signed out.')
}, whileSignedIn)

onSubmit(byId('delete-form'), async (values) => {
  await auth.json('api/auth/me/', { method: 'DELETE', body: second.stepUp(values) })
  byId('delete-form').reset()
  auth.forget()
  history.replaceState(null, '', location.pathname)
  show('signin', 'Your account has been deleted.')
}, whileSignedIn)

// A tab coming back to the front shows what changed meanwhile (a device signed out elsewhere).
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && auth.signedIn) loadDevices()
})

// ---- start: resume the session kept in the cookie, if any.
auth.resume().then(
  (signedIn) => signedIn || signedOutView(flagged ? FLAGGED_SIGN_IN : undefined),
  () => signedOutView('The service could not be reached. Please reload the page in a moment.')
)
