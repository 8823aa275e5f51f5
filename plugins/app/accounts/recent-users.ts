// Stale-if-error for me(): a protected route should not need the database, and the session check
// that guards it does not. So each instance remembers the users it saw last (at login, register
// or /me), bounded, the least recently seen going first, and answers from that copy only while the
// database is unavailable.
import type { PublicUser } from './types.js'

/** Users remembered per instance. */
const RECENT_USERS = 10_000

export class RecentUsers {
  readonly #users = new Map<string, PublicUser>()

  constructor (private readonly capacity = RECENT_USERS) {}

  /** Remembers the user as seen now and returns it. */
  remember (user: PublicUser): PublicUser {
    this.#users.delete(user.id)
    this.#users.set(user.id, user)
    if (this.#users.size > this.capacity) this.#users.delete(this.#users.keys().next().value!)
    return user
  }

  get (userId: string): PublicUser | undefined {
    return this.#users.get(userId)
  }

  /** The user changed (or is gone) in a way the copy must not outlive. */
  forget (userId: string): void {
    this.#users.delete(userId)
  }
}
