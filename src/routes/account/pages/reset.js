// The password reset link's page (PASSWORD_RESET_URL's default): /account/reset/?uid=…&token=….
// The uid and token leave the address bar (and the history) at once and are kept in memory only.
import { AuthClient, AuthError } from './auth-client.js'
import { byId, onSubmit, showErrors } from './ui.js'

const auth = new AuthClient()
const params = new URLSearchParams(location.search)
const link = { uid: params.get('uid') ?? '', token: params.get('token') ?? '' }
history.replaceState(null, '', location.pathname)

const form = byId('reset-form')
if (!link.uid || !link.token) {
  showErrors(form, { detail: 'This link is incomplete. Open the link from the e-mail again, or request a new one.' })
}

onSubmit(form, async (values) => {
  try {
    await auth.json('api/auth/password/reset/confirm/', { method: 'POST', body: { ...link, ...values } })
  } catch (err) {
    // A used, expired or altered link: the fields are not the problem.
    if (err?.body?.token || err?.body?.uid) throw new AuthError(400, { detail: 'This reset link is invalid or has expired. Request a new one below.' })
    throw err
  }
  form.reset()
  form.hidden = true
  byId('reset-done').hidden = false
  byId('reset-title').textContent = 'Password changed'
  byId('reset-title').focus()
})
