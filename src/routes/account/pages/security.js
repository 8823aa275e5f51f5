// The account view's second factors: two-step verification with an authenticator app (set up
// with its QR code, the recovery codes shown once with copy and download, new codes, turning it
// off) and passkeys (add, list, delete). The step-up code fields of the sensitive forms are shown
// only to a user who has a second factor.
import { byId, onSubmit, say, when } from './ui.js'

/** `auth`: the page's AuthClient; `notice`: the page's announcement region; `whileSignedIn`: onSubmit's option. */
export function security (auth, notice, whileSignedIn) {
  let downloadUrl = null

  function showRecoveryCodes (codes) {
    byId('recovery-codes').replaceChildren(...codes.map((code) => Object.assign(document.createElement('li'), { textContent: code })))
    if (downloadUrl) URL.revokeObjectURL(downloadUrl)
    downloadUrl = URL.createObjectURL(new Blob([`Recovery codes for ${byId('user-name').textContent} (each works once)\n\n${codes.join('\n')}\n`], { type: 'text/plain' }))
    byId('recovery-download').href = downloadUrl
    byId('recovery-panel').hidden = false
    byId('recovery-title').focus()
  }

  function hideRecoveryCodes () {
    byId('recovery-codes').replaceChildren()
    byId('recovery-panel').hidden = true
    if (downloadUrl) URL.revokeObjectURL(downloadUrl)
    downloadUrl = null
  }

  async function load () {
    let status
    try {
      status = await auth.json('api/auth/mfa/')
    } catch {
      if (auth.signedIn) say(byId('mfa-status'), 'Your two-step verification settings could not be loaded. Please reload the page.')
      return
    }
    const secondFactor = status.totp || status.passkeys > 0
    say(byId('mfa-status'), status.totp
      ? `On: signing in with your password also asks for a code. ${status.recovery_codes_left} recovery code${status.recovery_codes_left === 1 ? '' : 's'} left.`
      : 'Off.')
    byId('mfa-off').hidden = status.totp || !byId('mfa-setup-panel').hidden
    byId('mfa-on').hidden = !status.totp
    for (const field of document.querySelectorAll('#password-form .step-up, #delete-form .step-up, #email-form .step-up, #passkey-form .step-up')) field.hidden = !secondFactor
    await loadPasskeys()
  }

  async function loadPasskeys () {
    try {
      const passkeys = await auth.json('api/auth/passkeys/')
      say(byId('passkeys-error'), '')
      byId('passkeys').replaceChildren(...passkeys.map(passkeyRow))
    } catch {
      if (auth.signedIn) say(byId('passkeys-error'), 'Your passkeys could not be loaded. Please try again.')
    }
  }

  function passkeyRow (passkey) {
    const row = byId('passkey-row').content.firstElementChild.cloneNode(true)
    row.querySelector('.passkey-name').textContent = passkey.name
    const added = when(passkey.created)
    row.querySelector('.device-meta').textContent = `added ${added.text} · ${passkey.last_used ? `last used ${when(passkey.last_used).text}` : 'not used yet'}`
    const button = row.querySelector('.passkey-delete')
    button.setAttribute('aria-label', `Delete the passkey ${passkey.name}`)
    button.addEventListener('click', async () => {
      button.disabled = true
      try {
        const code = byId('passkey-code').value.trim()
        await auth.json(`api/auth/passkeys/${encodeURIComponent(passkey.id)}/`, { method: 'DELETE', body: code ? { code } : {} })
        say(notice, `The passkey ${passkey.name} is deleted.`)
        await load()
        byId('passkeys-title').focus()
      } catch (err) {
        button.disabled = false
        if (!auth.signedIn) return
        const needsCode = Array.isArray(err?.body?.code)
        if (needsCode) byId('passkey-form').querySelector('.step-up').hidden = false
        say(byId('passkeys-error'), needsCode ? `${err.body.code.join(' ')} Enter a code from your authenticator app, then delete it again.` : 'That passkey could not be deleted. Please try again.')
      }
    })
    return row
  }

  byId('mfa-setup').addEventListener('click', async () => {
    try {
      const setup = await auth.json('api/auth/mfa/totp/setup/', { method: 'POST', body: {} })
      // The QR code arrives as SVG text: shown as an image, never as markup of the page.
      byId('mfa-qr').src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(setup.qr_svg)}`
      byId('mfa-secret').textContent = setup.secret.replace(/(.{4})/g, '$1 ').trim()
      byId('mfa-off').hidden = true
      byId('mfa-setup-panel').hidden = false
      byId('mfa-confirm-code').focus()
    } catch (err) {
      if (auth.signedIn) say(byId('mfa-status'), err?.body?.detail ?? 'Setting up did not work just now. Please try again.')
    }
  })

  onSubmit(byId('mfa-confirm-form'), async ({ code }) => {
    const { recovery_codes: codes } = await auth.json('api/auth/mfa/totp/confirm/', { method: 'POST', body: { code: code.replace(/\s/g, '') } })
    byId('mfa-confirm-form').reset()
    byId('mfa-setup-panel').hidden = true
    byId('mfa-qr').removeAttribute('src')
    say(notice, 'Two-step verification is on.')
    await load()
    showRecoveryCodes(codes)
  }, whileSignedIn)

  byId('recovery-copy').addEventListener('click', async () => {
    const codes = [...byId('recovery-codes').children].map((li) => li.textContent).join('\n')
    try {
      await navigator.clipboard.writeText(codes)
      say(notice, 'The recovery codes are copied.')
    } catch {
      say(notice, 'Copying is not allowed here: select the codes, or download them.')
    }
  })

  byId('recovery-done').addEventListener('click', () => {
    hideRecoveryCodes()
    byId('mfa-title').focus()
  })

  onSubmit(byId('recovery-form'), async (values) => {
    const { recovery_codes: codes } = await auth.json('api/auth/mfa/recovery-codes/', { method: 'POST', body: stepUp(values) })
    byId('recovery-form').reset()
    await load()
    showRecoveryCodes(codes)
  }, whileSignedIn)

  onSubmit(byId('mfa-disable-form'), async (values) => {
    await auth.json('api/auth/mfa/totp/disable/', { method: 'POST', body: stepUp(values) })
    byId('mfa-disable-form').reset()
    hideRecoveryCodes()
    say(notice, 'Two-step verification is off. Your other devices have been signed out.')
    await load()
  }, whileSignedIn)

  onSubmit(byId('passkey-form'), async (values) => {
    if (!window.PublicKeyCredential) throw new Error('no WebAuthn')
    let passkey
    try {
      passkey = await auth.addPasskey(stepUp(values))
    } catch (err) {
      // The browser's own refusal (cancelled, not allowed): said in the form.
      if (err?.name === 'NotAllowedError' || err?.name === 'InvalidStateError') throw Object.assign(err, { body: { detail: 'No passkey was added (cancelled, or this device has one for this account already).' } })
      if (Array.isArray(err?.body?.code)) byId('passkey-form').querySelector('.step-up').hidden = false
      throw err
    }
    byId('passkey-form').reset()
    say(notice, `The passkey ${passkey.name} is added. You can now sign in with it.`)
    await load()
  }, whileSignedIn)

  /** The values of a form with a step-up code field: the code left out when empty. */
  function stepUp (values) {
    const { code, ...rest } = values
    return code && code.trim() ? { ...rest, code: code.replace(/\s/g, '') } : rest
  }

  return {
    load,
    /** Everything of the account's second factors leaves the page (a session that ended). */
    clear () {
      hideRecoveryCodes()
      byId('passkeys').replaceChildren()
      byId('mfa-setup-panel').hidden = true
      byId('mfa-qr').removeAttribute('src')
      byId('mfa-secret').textContent = ''
      say(byId('mfa-status'), '')
    },
    stepUp
  }
}
