// The signed-in user's own account: who am I, the names, and deleting the account.
import { DependencyError, accessTokenNotValid, fieldErrors } from '../errors.js'
import type { FlowContext } from './context.js'
import { publicUser, type Accounts } from './types.js'

const WRONG_PASSWORD = 'Your password was entered incorrectly.'

type ProfileFlows = Pick<Accounts, 'me' | 'updateProfile' | 'deleteAccount'>

export function profileFlows (ctx: FlowContext): ProfileFlows {
  const { users, audit, recent } = ctx
  return {
    async me (userId) {
      try {
        return recent.remember(publicUser(await ctx.currentUser(userId)))
      } catch (err) {
        const copy = recent.get(userId)
        if (err instanceof DependencyError && copy) return copy
        throw err
      }
    },

    async updateProfile (userId, { first_name, last_name }) {
      const user = await users.updateProfile(userId, { firstName: first_name, lastName: last_name })
      if (!user || !user.isActive) throw accessTokenNotValid()
      return recent.remember(publicUser(user))
    },

    async deleteAccount (caller, password, code, client) {
      const user = await ctx.currentUser(caller.userId)
      if (!(await ctx.checkOwnPassword(user, password, client, 'account_deleted', caller.sid))) throw fieldErrors({ password: [WRONG_PASSWORD] })
      await ctx.stepUp(caller, code, client)
      await ctx.revokingAround(user.id, undefined, () => users.delete(user.id))
      recent.forget(user.id)
      ctx.notify.forget(user.id)
      audit(client, { event: 'account_deleted', outcome: 'success', userId: user.id, sid: caller.sid })
    }
  }
}
