// The password flows: change (by the signed-in user), and reset by an e-mailed link (request,
// confirm). The links themselves are made and checked in links.ts.
import { fieldErrors } from '../errors.js'
import { expiryVars, fillLink } from '../mail/index.js'
import type { User } from '../users.js'
import { later, type FlowContext } from './context.js'
import type { Accounts, FieldErrors } from './types.js'

const MESSAGES = {
  oldPassword: 'Your old password was entered incorrectly. Please enter it again.',
  mismatch: 'The two password fields didn\u2019t match.',
  invalid: 'Invalid value'
} as const

type PasswordFlows = Pick<Accounts, 'changePassword' | 'requestPasswordReset' | 'confirmPasswordReset' | 'mailPasswordReset'>

export function passwordFlows (ctx: FlowContext): PasswordFlows {
  const { users, passwords, mail, audit, email, links, recent, notify } = ctx

  /** Django's SetPasswordForm: both fields, then the validators (the breach check too); every message under new_password2. */
  async function newPasswordErrors (p1: string, p2: string, user: User): Promise<FieldErrors> {
    if (p1 !== p2) return { new_password2: [MESSAGES.mismatch] }
    const messages = await passwords.check(p2, { username: user.username, email: user.email, first_name: user.firstName, last_name: user.lastName })
    return messages.length > 0 ? { new_password2: messages } : {}
  }

  function mailPasswordReset (user: User) {
    later(() => {
      const link = fillLink(email.resetUrl, { uid: links.uid(user.id), token: links.resetToken(user) })
      void mail.send('password-reset', user.email, { link, username: user.username, email: user.email, ...expiryVars(email.resetTimeout) })
    })
  }

  return {
    async changePassword (caller, { old_password, new_password1, new_password2, code }, client) {
      const user = await ctx.currentUser(caller.userId)
      if (!(await ctx.checkOwnPassword(user, old_password, client, 'password_changed', caller.sid))) throw fieldErrors({ old_password: [MESSAGES.oldPassword] })
      await ctx.stepUp(caller, code, client)
      const errors = await newPasswordErrors(new_password1, new_password2, user)
      if (Object.keys(errors).length > 0) throw fieldErrors(errors)
      const hash = await passwords.hash(new_password1)
      const changed = await ctx.revokingAround(user.id, caller.sid, () => users.replacePassword(user.id, user.passwordHash, hash))
      // Another change won the race: this one was checked against a password that is gone.
      if (!changed) throw fieldErrors({ old_password: [MESSAGES.oldPassword] })
      audit(client, { event: 'password_changed', outcome: 'success', userId: user.id, sid: caller.sid })
      notify.send(user, 'password_changed')
    },

    async requestPasswordReset (address, client) {
      const user = await users.findByEmail(address)
      // Django sends to active users with a usable password; anyone else gets the same answer.
      if (!user || !user.isActive) {
        audit(client, { event: 'password_reset_requested', outcome: 'no_account', userId: user?.id ?? null })
        return
      }
      audit(client, { event: 'password_reset_requested', outcome: 'sent', userId: user.id })
      mailPasswordReset(user)
    },

    mailPasswordReset,

    async confirmPasswordReset ({ uid, token, new_password1, new_password2 }, client) {
      const invalid = (userId: string | null, field: 'uid' | 'token') => {
        audit(client, { event: 'password_reset_completed', outcome: 'invalid_link', userId })
        return fieldErrors({ [field]: [MESSAGES.invalid] })
      }
      // dj-rest-auth's order: the uid, the token, then the new password.
      const id = links.decodeUid(uid)
      const user = id === null ? null : await users.findById(id)
      if (!user || !user.isActive) throw invalid(null, 'uid')
      if (!links.checkResetToken(user, token)) throw invalid(user.id, 'token')
      const errors = await newPasswordErrors(new_password1, new_password2, user)
      if (Object.keys(errors).length > 0) throw fieldErrors(errors)
      const hash = await passwords.hash(new_password1)
      // Compare-and-set on the hash the token was made from: the link works once, whatever races.
      const changed = await ctx.revokingAround(user.id, undefined, () => users.replacePassword(user.id, user.passwordHash, hash))
      if (!changed) throw invalid(user.id, 'token')
      recent.forget(user.id)
      audit(client, { event: 'password_reset_completed', outcome: 'success', userId: user.id })
      notify.send(user, 'password_reset')
    }
  }
}
