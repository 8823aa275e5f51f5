// The second factor's flows: TOTP enrolment (setup, confirm, disable), recovery codes, passkeys
// (add, list, delete) and the username-less sign-in with a passkey. The sign-in's second step is a
// session flow (session-flows.ts, completeLogin); the step-up rule is the context's (stepUp).
import { ApiError, fieldErrors } from '../errors.js'
import type { FlowContext } from './context.js'
import { PASSKEY } from './context.js'
import type { Accounts } from './types.js'

const ALREADY_ENABLED = 'Two-factor authentication is already enabled.'
const NOT_ENABLED = 'Two-factor authentication is not enabled.'
const WRONG_PASSWORD = 'Your password was entered incorrectly.'
const INVALID_CODE = 'Invalid code.'
const INVALID_CREDENTIAL = 'The passkey could not be verified.'

type MfaFlows = Pick<
  Accounts,
  | 'mfaStatus'
  | 'setupTotp'
  | 'confirmTotp'
  | 'disableTotp'
  | 'newRecoveryCodes'
  | 'passkeyRegistrationOptions'
  | 'addPasskey'
  | 'passkeys'
  | 'removePasskey'
  | 'passkeyLoginOptions'
  | 'passkeyLogin'
>

export function mfaFlows (ctx: FlowContext): MfaFlows {
  const { mfa, passkeys, audit, store, users, notify } = ctx

  /** The caller's password (counted like a login) and, for a user with a second factor, a step-up. */
  async function checkPasswordAndStepUp (caller: Parameters<Accounts['disableTotp']>[0], password: string, code: string | undefined, client: Parameters<Accounts['disableTotp']>[2], event: 'mfa_disabled' | 'recovery_codes_regenerated') {
    const user = await ctx.currentUser(caller.userId)
    if (!(await ctx.checkOwnPassword(user, password, client, event, caller.sid))) throw fieldErrors({ password: [WRONG_PASSWORD] })
    await ctx.stepUp(caller, code, client)
    return user
  }

  return {
    async mfaStatus (caller) {
      const s = await mfa.status(caller.userId)
      return { totp: s.totp, recovery_codes_left: s.recoveryCodesLeft, passkeys: s.passkeys }
    },

    async setupTotp (caller) {
      const user = await ctx.currentUser(caller.userId)
      const setup = await mfa.beginTotp(user.id, user.username)
      if (!setup) throw new ApiError(400, { detail: ALREADY_ENABLED })
      return { secret: setup.secret, otpauth_url: setup.otpauthUrl, qr_svg: setup.qrSvg }
    },

    async confirmTotp (caller, code, client) {
      const user = await ctx.currentUser(caller.userId)
      const codes = await mfa.confirmTotp(user.id, code)
      if (!codes) {
        audit(client, { event: 'mfa_enabled', outcome: 'invalid_code', userId: user.id, sid: caller.sid })
        throw fieldErrors({ code: [INVALID_CODE] })
      }
      audit(client, { event: 'mfa_enabled', outcome: 'success', userId: user.id, sid: caller.sid })
      notify.send(user, 'mfa_enabled')
      return codes
    },

    async disableTotp (caller, { password, code }, client) {
      const user = await checkPasswordAndStepUp(caller, password, code, client, 'mfa_disabled')
      if (!(await mfa.disableTotp(user.id))) throw new ApiError(400, { detail: NOT_ENABLED })
      // One factor fewer: every other session ends (one that signed in with it included).
      await store.revokeUserSessions(user.id, caller.sid)
      audit(client, { event: 'mfa_disabled', outcome: 'success', userId: user.id, sid: caller.sid })
      notify.send(user, 'mfa_disabled')
    },

    async newRecoveryCodes (caller, { password, code }, client) {
      const user = await checkPasswordAndStepUp(caller, password, code, client, 'recovery_codes_regenerated')
      if (!(await mfa.status(user.id)).totp) throw new ApiError(400, { detail: NOT_ENABLED })
      const codes = await mfa.newRecoveryCodes(user.id)
      audit(client, { event: 'recovery_codes_regenerated', outcome: 'success', userId: user.id, sid: caller.sid })
      notify.send(user, 'recovery_codes_regenerated')
      return codes
    },

    // The step-up gates the ceremony: no challenge (and no credential made by the browser) without it.
    async passkeyRegistrationOptions (caller, code, client) {
      const user = await ctx.currentUser(caller.userId)
      await ctx.stepUp(caller, code, client)
      return passkeys.registrationOptions(user.id, user.username)
    },

    async addPasskey (caller, { credential, name }, client) {
      const user = await ctx.currentUser(caller.userId)
      const passkey = await passkeys.register(user.id, credential, name)
      if (!passkey) {
        audit(client, { event: 'passkey_added', outcome: 'invalid', userId: user.id, sid: caller.sid })
        throw fieldErrors({ credential: [INVALID_CREDENTIAL] })
      }
      audit(client, { event: 'passkey_added', outcome: 'success', userId: user.id, sid: caller.sid })
      notify.send(user, 'passkey_added')
      return passkey
    },

    async passkeys (caller) {
      await ctx.currentUser(caller.userId)
      return passkeys.list(caller.userId)
    },

    async removePasskey (caller, id, code, client) {
      const user = await ctx.currentUser(caller.userId)
      if (!(await passkeys.list(caller.userId)).some((p) => p.id === id)) return false
      await ctx.stepUp(caller, code, client)
      const removed = await passkeys.remove(caller.userId, id)
      if (removed) {
        audit(client, { event: 'passkey_removed', outcome: 'success', userId: caller.userId, sid: caller.sid })
        notify.send(user, 'passkey_removed')
      }
      return removed
    },

    passkeyLoginOptions: () => passkeys.authenticationOptions(),

    async passkeyLogin (credential, client) {
      const result = await passkeys.authenticate(credential)
      if (!result.ok) {
        audit(client, { event: 'passkey_login', outcome: result.reason === 'cloned' ? 'cloned' : 'failed', userId: null })
        return null
      }
      const user = await users.findById(result.userId)
      if (!user || !user.isActive) {
        audit(client, { event: 'passkey_login', outcome: 'failed', userId: result.userId })
        return null
      }
      const session = await ctx.finishLogin(user, client, PASSKEY)
      if (session) audit(client, { event: 'passkey_login', outcome: 'success', userId: user.id })
      return session
    }
  }
}
