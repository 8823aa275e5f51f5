// What the account flows take and give: the door (`Accounts`) the routes call, and the shapes
// that cross it. The routes' schemas describe the same bodies for HTTP.
import type { Caller } from '../auth.js'
import type { Client } from '../audit.js'
import type { TokenClaims } from '../tokens.js'
import type { PasskeyView } from '../passkeys/index.js'
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
  /** How the user signed in (RFC 8176), and when (s). */
  amr: string[]
  auth_time: number
  current: boolean
}

/** A correct password of a user with a second factor: no tokens yet, the ephemeral token of the second step. */
export interface MfaChallenge {
  mfa_required: true
  ephemeral_token: string
  methods: Array<'totp' | 'recovery_code' | 'passkey'>
}

export interface MfaStatusView {
  totp: boolean
  recovery_codes_left: number
  passkeys: number
}

export interface TotpSetupView {
  secret: string
  otpauth_url: string
  qr_svg: string
}

/** The second step of a sign-in: the ephemeral token with a TOTP or recovery code, or a passkey assertion. */
export interface SecondStep extends Client {
  ephemeral_token: string
  code?: string
  credential?: unknown
}

export type { PasskeyView } from '../passkeys/index.js'

export interface PasswordChange {
  old_password: string
  new_password1: string
  new_password2: string
  /** Step-up, for a user with a second factor. */
  code?: string
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

/** A new session and its user. */
export interface SignedIn {
  user: PublicUser
  tokens: TokenPair
}

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
  login(input: LoginInput): Promise<SignedIn | MfaChallenge | null>
  /**
   * The second step: a new session for a right code (or passkey) of the ephemeral token's user. A
   * 400 for a wrong one (a failed login of the account; the token dies after 5) or a token that is
   * unknown, expired, spent or dead; 429 like a login.
   */
  completeLogin(input: SecondStep): Promise<SignedIn>
  /** GET /api/auth/mfa/. */
  mfaStatus(caller: Caller): Promise<MfaStatusView>
  /** A new pending TOTP secret (replacing a pending one); 400 when TOTP is on. */
  setupTotp(caller: Caller): Promise<TotpSetupView>
  /** Turns the pending secret on with one of its codes: ten new recovery codes. 400 for a wrong code. */
  confirmTotp(caller: Caller, code: string, client: Client): Promise<string[]>
  /** Password, step-up, then TOTP off and every other session revoked. */
  disableTotp(caller: Caller, input: { password: string; code?: string }, client: Client): Promise<void>
  /** Password, step-up, then a new set of recovery codes. */
  newRecoveryCodes(caller: Caller, input: { password: string; code?: string }, client: Client): Promise<string[]>
  /** Step-up (a code, or a recent second factor), then the creation options; the challenge is the caller's only. */
  passkeyRegistrationOptions(caller: Caller, code: string | undefined, client: Client): Promise<unknown>
  /** The attestation verified against the caller's challenge: the new passkey; 400 when it does not verify. */
  addPasskey(caller: Caller, input: { credential: unknown; name?: string }, client: Client): Promise<PasskeyView>
  passkeys(caller: Caller): Promise<PasskeyView[]>
  /** false when it is not one of the caller's passkeys; step-up before it goes. */
  removePasskey(caller: Caller, id: string, code: string | undefined, client: Client): Promise<boolean>
  passkeyLoginOptions(): Promise<unknown>
  /** Username-less sign-in: a new session (amr hwk, mfa) for a verified assertion; null otherwise. */
  passkeyLogin(credential: unknown, client: Client): Promise<SignedIn | null>
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
  /** Mails the user a password reset link, after the answer (an administrator's request). */
  mailPasswordReset(user: User): void
  /** Sets the password from a reset link and revokes every session. 400 field errors. */
  confirmPasswordReset(input: PasswordResetConfirm, client: Client): Promise<void>
  /** Marks the email of a verification key verified; false for an unknown, used or expired key. */
  verifyEmail(key: string, client: Client): Promise<boolean>
  /** Mails a new verification link when an active, unverified account has this email; silent otherwise. */
  resendVerification(email: string): Promise<void>
  /**
   * Password (counted like a login), step-up, then a link to the new address; nothing changes yet.
   * 400 field errors: a wrong password, the address already the user's or another account's.
   */
  requestEmailChange(caller: Caller, input: { new_email: string; password: string; code?: string }, client: Client): Promise<void>
  /**
   * Follows a change link: the user with the new, verified address (the old one gets a notice);
   * null for an unknown, used or expired key. 400 when another account took the address meanwhile.
   */
  confirmEmailChange(key: string, client: Client): Promise<PublicUser | null>
  /** Deletes the user and every session after checking the password (400 otherwise; 429 like a login). */
  deleteAccount(caller: Caller, password: string, code: string | undefined, client: Client): Promise<void>
}

export const publicUser = (u: User): PublicUser => ({
  id: u.id,
  username: u.username,
  email: u.email,
  first_name: u.firstName,
  last_name: u.lastName,
  email_verified: u.emailVerified
})
