// The e-mail change link's page (EMAIL_CHANGE_URL's default): /account/email/?key=….
// The key leaves the address bar at once; the page confirms it and says how that went.
import { AuthClient } from './auth-client.js'
import { byId, say } from './ui.js'

const auth = new AuthClient()
const key = new URLSearchParams(location.search).get('key') ?? ''
history.replaceState(null, '', location.pathname)

const title = byId('email-title')
const message = byId('email-message')

async function confirm () {
  if (!key) return ['This link is incomplete', 'Open the link from the e-mail again.']
  try {
    const user = await auth.json('api/auth/email/change/confirm/', { method: 'POST', body: { key } })
    return ['E-mail address changed', `Your account's e-mail address is now ${user.email}.`]
  } catch (err) {
    if (err?.status === 404) {
      return ['This link has expired', 'The link is invalid, already used or too old. Sign in and ask for the change again from your account page.']
    }
    if (err?.status === 400) return ['Address taken', 'Another account has this e-mail address now, so it cannot become yours.']
    return ['Please try again', 'Your address could not be changed just now. Reload this page in a moment.']
  }
}

confirm().then(([heading, text]) => {
  title.textContent = heading
  say(message, text)
  byId('email-next').hidden = false
  title.focus()
})
