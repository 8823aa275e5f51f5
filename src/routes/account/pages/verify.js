// The verification link's page (EMAIL_VERIFY_URL's default): /account/verify/?key=….
// The key leaves the address bar at once; the page confirms it and says how that went.
import { AuthClient } from './auth-client.js'
import { byId, say } from './ui.js'

const auth = new AuthClient()
const key = new URLSearchParams(location.search).get('key') ?? ''
history.replaceState(null, '', location.pathname)

const title = byId('verify-title')
const message = byId('verify-message')

async function verify () {
  if (!key) return ['This link is incomplete', 'Open the link from the e-mail again.']
  try {
    await auth.json('api/auth/registration/verify-email/', { method: 'POST', body: { key } })
    return ['E-mail verified', 'Thank you: your e-mail address is verified.']
  } catch (err) {
    if (err?.status === 404 || err?.status === 400) {
      return ['This link has expired', 'The link is invalid, already used or too old. Sign in and send the verification e-mail again from your account page.']
    }
    return ['Please try again', 'Your address could not be verified just now. Reload this page in a moment.']
  }
}

verify().then(([heading, text]) => {
  title.textContent = heading
  say(message, text)
  byId('verify-next').hidden = false
  title.focus()
})
