// Changing the e-mail address: a link to the new address (nothing changes until it is followed),
// then the change, atomic against the old address (compare-and-set: the link works once) and
// against every other account (the unique index: of two accounts racing for one address, one
// wins and the other gets a 400), and a notice to the old address.
import { fieldErrors } from '../errors.js'
import { expiryVars, fillLink } from '../mail/index.js'
import { foldEmail, normalizeEmail, UniqueViolationError, type User } from '../users.js'
import { later, type FlowContext } from './context.js'
import { publicUser, type Accounts } from './types.js'

const WRONG_PASSWORD = 'Your password was entered incorrectly.'
const TAKEN = 'A user with that email already exists.'
const SAME = 'This is already your e-mail address.'

type EmailFlows = Pick<Accounts, 'requestEmailChange' | 'confirmEmailChange'>

export function emailFlows (ctx: FlowContext): EmailFlows {
  const { users, mail, audit, email, links, recent, notify } = ctx

  function sendLink (user: User, address: string) {
    later(() => {
      const link = fillLink(email.changeUrl, { key: links.emailChangeKey(user, address) })
      void mail.send('email-change', address, { link, username: user.username, email: address, ...expiryVars(email.verifyTimeout) })
    })
  }

  return {
    async requestEmailChange (caller, { new_email: newEmail, password, code }, client) {
      const user = await ctx.currentUser(caller.userId)
      // The password first: without it, nothing is said about the address.
      if (!(await ctx.checkOwnPassword(user, password, client, 'email_change_requested', caller.sid))) throw fieldErrors({ password: [WRONG_PASSWORD] })
      await ctx.stepUp(caller, code, client)
      const address = normalizeEmail(newEmail)
      if (foldEmail(address).length > 254) throw fieldErrors({ new_email: ['Ensure this field has no more than 254 characters.'] })
      if (foldEmail(address) === foldEmail(user.email)) throw fieldErrors({ new_email: [SAME] })
      if ((await users.taken('', address)).email) throw fieldErrors({ new_email: [TAKEN] })
      audit(client, { event: 'email_change_requested', outcome: 'sent', userId: user.id, sid: caller.sid })
      sendLink(user, address)
    },

    async confirmEmailChange (key, client) {
      const id = links.emailChangeKeyUser(key)
      const user = id === null ? null : await users.findById(id)
      const address = user && user.isActive ? links.checkEmailChangeKey(user, key) : null
      const invalid = () => {
        audit(client, { event: 'email_changed', outcome: 'invalid_key', userId: user?.id ?? null })
        return null
      }
      if (!user || address === null) return invalid()
      let changed: User | null
      try {
        // Compare-and-set on the address the key was made for: of two racing confirmations, one changes it.
        changed = await users.changeEmail(user.id, user.email, address)
      } catch (err) {
        if (!(err instanceof UniqueViolationError)) throw err
        audit(client, { event: 'email_changed', outcome: 'taken', userId: user.id })
        throw fieldErrors({ new_email: [TAKEN] })
      }
      if (!changed) return invalid()
      recent.forget(user.id)
      audit(client, { event: 'email_changed', outcome: 'success', userId: user.id })
      notify.send({ email: user.email, username: user.username }, 'email_changed', { newEmail: changed.email })
      return publicUser(changed)
    }
  }
}
