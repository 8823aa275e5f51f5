// Registration and the e-mail verification that follows it: the registration rules, creating the
// user with its first session, the verification link, and marking the address verified.
import { randomUUID } from 'node:crypto'
import { fieldErrors } from '../errors.js'
import { expiryVars, fillLink } from '../mail/index.js'
import { UniqueViolationError, foldEmail, type User } from '../users.js'
import { foldUsername } from '../usernames.js'
import { later, type FlowContext } from './context.js'
import { publicUser, type Accounts, type FieldErrors, type RegisterInput, type TokenPair } from './types.js'

/**
 * A name with an @ is read as an e-mail address at login, so a username with an @ must be the
 * registrant's own e-mail: nobody can take a name that would sign in as (or lock out) another
 * account's e-mail.
 */
const FOREIGN_EMAIL_USERNAME = 'A username containing @ must be your own e-mail address.'

const UNIQUE_MESSAGES = {
  username: 'A user with that username already exists.',
  email: 'A user with that email already exists.'
} as const

type RegistrationFlows = Pick<Accounts, 'registrationErrors' | 'register' | 'verifyEmail' | 'resendVerification'>

export function registrationFlows (ctx: FlowContext): RegistrationFlows {
  const { users, passwords, mail, audit, store, email, links, recent } = ctx

  function sendVerification (user: User) {
    later(() => {
      const link = fillLink(email.verifyUrl, { key: links.verifyKey(user) })
      void mail.send('verify-email', user.email, { link, username: user.username, email: user.email, ...expiryVars(email.verifyTimeout) })
    })
  }

  async function registrationErrors (input: RegisterInput, skip: Iterable<string> = []): Promise<FieldErrors> {
    const refused = new Set(skip)
    const errors: FieldErrors = {}
    const add = (field: string, message: string) => (errors[field] ??= []).push(message)
    const checked = (field: string) => !refused.has(field) && !errors[field]
    // Some characters grow when case-folded (İ -> i̇, ß -> ss): the folded copy the database
    // keeps must fit its column too, or a client mistake would reach the database as an error.
    for (const [field, max, fold] of [['username', 150, foldUsername], ['email', 254, foldEmail]] as const) {
      if (checked(field) && fold(input[field]).length > max) add(field, `Ensure this field has no more than ${max} characters.`)
    }
    if (checked('username') && input.username.includes('@') && foldEmail(input.username) !== foldEmail(input.email)) {
      add('username', FOREIGN_EMAIL_USERNAME)
    }
    // Uniqueness is reported for the fields that are otherwise valid, like DRF's validators.
    if (checked('username') || checked('email')) {
      // A refused value never reaches the database (it may hold what its text type cannot).
      const taken = await users.taken(checked('username') ? input.username : '', checked('email') ? input.email : '')
      if (taken.username && checked('username')) add('username', UNIQUE_MESSAGES.username)
      if (taken.email && checked('email')) add('email', UNIQUE_MESSAGES.email)
    }
    if (checked('password')) {
      for (const message of await passwords.check(input.password, input)) add('password', message)
    }
    return errors
  }

  return {
    registrationErrors,

    async register (input, client) {
      const errors = await registrationErrors(input)
      if (Object.keys(errors).length > 0) throw fieldErrors(errors)

      const passwordHash = await passwords.hash(input.password)
      const fields = { username: input.username, email: input.email, passwordHash, firstName: input.first_name, lastName: input.last_name }
      const uniqueError = (err: unknown) =>
        err instanceof UniqueViolationError ? fieldErrors(Object.fromEntries(err.fields.map((f) => [f, [UNIQUE_MESSAGES[f]]]))) : err
      let user: User
      let session: { sid: string; tokens: TokenPair } | null = null
      if (email.verification === 'mandatory') {
        // No session until the e-mail is verified: login starts the first one.
        user = await users.create(fields).catch((err: unknown) => Promise.reject(uniqueError(err)))
      } else {
        // The session first, for an id made here: if the store fails, nothing was written; if the
        // user's insert fails, the session belongs to nobody and its tokens were never handed out
        // (it is revoked all the same). So a failed registration never leaves a user behind.
        const id = randomUUID()
        session = await ctx.startSession(id, client)
        try {
          user = await users.create({ id, ...fields })
        } catch (err) {
          await store.revokeSession({ userId: id, sid: session.sid }).catch(() => {})
          throw uniqueError(err)
        }
      }
      if (email.verification !== 'none') sendVerification(user)
      // The device of the registration is known from the start: its first sign-in is no news.
      ctx.notify.signedIn(user, client, null)
      audit(client, { event: 'register', outcome: 'success', userId: user.id, sid: session?.sid ?? null })
      return { user: recent.remember(publicUser(user)), pk: user.pk, tokens: session?.tokens ?? null }
    },

    async verifyEmail (key, client) {
      const id = links.verifyKeyUser(key)
      const user = id === null ? null : await users.findById(id)
      const verified = !!user && user.isActive && links.checkVerifyKey(user, key) && (await users.verifyEmail(user.id, user.email))
      if (verified) recent.forget(user.id)
      audit(client, { event: 'email_verified', outcome: verified ? 'success' : 'invalid_key', userId: user?.id ?? null })
      return verified
    },

    async resendVerification (address) {
      if (email.verification === 'none') return
      const user = await users.findByEmail(address)
      if (!user || !user.isActive || user.emailVerified) return
      sendVerification(user)
    }
  }
}
