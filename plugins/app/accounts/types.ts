// What the account flows take and give: the door (`Accounts`) the routes call, and the shapes
// that cross it. The routes' schemas describe the same bodies for HTTP.
import type { Caller } from '../auth.js'
import type { Client } from '../audit.js'
import type { TokenClaims } from '../tokens.js'
import type { User } from '../users.js'

export type { Caller } from '../auth.js'
export type { Client } from '../audit.js'

export interface TokenPair {
  access: string
  refresh: string
}

/** A refresh's answer: a new pair, or (ROTATE_REFRESH_TOKENS=false) an access token only. */
export interface Refreshed {
  access: string
  refresh?: string
}

export interface PublicUser {
  id: string
  username: string
  email: string
  first_name: string
  last_name: string
  email_verified: boolean
}

/** A session as GET /api/auth/sessions/ shows it. */
export interface SessionView {
  id: string
  created: string
  last_used: string
  expires: string
  ip: string
  user_agent: string
  current: boolean
}

export interface PasswordChange {
  old_password: string
  new_password1: string
  new_password2: string
}

export interface PasswordResetConfirm {
  uid: string
  token: string
  new_password1: string
  new_password2: string
}

export interface RegisterInput {
  username: string
  email: string
  password: string
  first_name: string
  last_name: string
}

export interface LoginInput extends Client {
  /** The username, or the account's email. */
  login: string
  password: string
}

export type FieldErrors = Record<string, string[]>

export interface Accounts {
  /**
   * What the registration rules say of the input (a case-folded username or email too long, a
   * taken one, the password validators), field by field, leaving out the fields in `skip` (those
   * the caller already refused). {} when nothing is wrong. Writes nothing.
   */
  registrationErrors(input: RegisterInput, skip?: Iterable<string>): Promise<FieldErrors>
  /**
   * Creates the user and its first session; a 400 with every registrationErrors problem otherwise.
   * With mandatory e-mail verification there is no session yet (tokens null): login waits for the link.
   */
  /** The new user, its integer number (`pk`, for API_PROFILE=envelope only), and its first tokens (none while verification is mandatory). */
  register(input: RegisterInput, client: Client): Promise<{ user: PublicUser; pk: number; tokens: TokenPair | null }>
  /**
   * A new session for these credentials, or null (wrong password, unknown or inactive user: the
   * same work and answer for all). A 429 ApiError when the failure limits are reached; a 400 when
   * the password is right but verification is mandatory and the e-mail is not verified yet.
   */
  login(input: LoginInput): Promise<{ user: PublicUser; tokens: TokenPair } | null>
  /**
   * The user of a protected request; 401 (as for a bad token) when it is gone or inactive. While
   * the database is unavailable, the copy this instance saw last (at login, register or /me).
   */
  me(userId: string): Promise<PublicUser>
  /** PATCH /me: the names only. 401 when the user is gone. */
  updateProfile(userId: string, fields: { first_name?: string; last_name?: string }): Promise<PublicUser>
  /**
   * Rotates the session of a refresh token whose claims the caller verified (`tokens.verify`);
   * null claims (a token that did not verify) are refused like an unknown session.
   */
  refresh(claims: TokenClaims | null, client: Client): Promise<Refreshed>
  verify(token: string): Promise<boolean>
  /**
   * Revokes the session of a refresh token. `userId`: the Bearer token's user, who must own it
   * (else 403); null where the profile needs no Bearer (the refresh token alone names the session).
   */
  logout(userId: string | null, refreshToken: string, client: Client): Promise<void>
  /** Every session of the caller's user, or every one but the caller's own; how many were revoked. */
  logoutAll(caller: Caller, exceptCurrent: boolean, client: Client): Promise<number>
  /** The caller's live sessions, newest first. */
  sessions(caller: Caller): Promise<SessionView[]>
  /** One of the caller's user's sessions; false when it is not a live session of theirs. */
  revokeSession(caller: Caller, sid: string, client: Client): Promise<boolean>
  /** Every other session of the user is revoked, the caller's kept. 400 field errors; 429 like a login. */
  changePassword(caller: Caller, input: PasswordChange, client: Client): Promise<void>
  /** Mails a reset link when an active account has this email; the same work and answer otherwise. */
  requestPasswordReset(email: string, client: Client): Promise<void>
  /** Sets the password from a reset link and revokes every session. 400 field errors. */
  confirmPasswordReset(input: PasswordResetConfirm, client: Client): Promise<void>
  /** Marks the email of a verification key verified; false for an unknown, used or expired key. */
  verifyEmail(key: string, client: Client): Promise<boolean>
  /** Mails a new verification link when an active, unverified account has this email; silent otherwise. */
  resendVerification(email: string): Promise<void>
  /** Deletes the user and every session after checking the password (400 otherwise; 429 like a login). */
  deleteAccount(caller: Caller, password: string, client: Client): Promise<void>
}

export const publicUser = (u: User): PublicUser => ({
  id: u.id,
  username: u.username,
  email: u.email,
  first_name: u.firstName,
  last_name: u.lastName,
  email_verified: u.emailVerified
})
