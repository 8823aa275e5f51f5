// The token store's contract, shared by the Redis and the database implementation.
// Times: `now` arguments are milliseconds since the epoch; iat/exp are seconds (JWT claims). The
// service passes no `now`: creating, rotating and listing sessions then take the time from the
// store's server (Redis TIME, the database's clock), so instances whose clocks differ agree on the
// grace interval and on expiry. Tests pass one to move in time. (A token's own exp is checked
// against the instance's clock, by the JWT check, as every JWT verifier does.)

/** How long a device stays known after its last sign-in (the new-device notice's 90 days), ms. */
export const DEVICE_WINDOW_MS = 90 * 86_400_000
/** How many devices a user's history keeps (the most recent). */
export const DEVICE_LIMIT = 20

export interface TokenStoreOptions {
  /** Access token lifetime, seconds: a session's record outlives its last access token. */
  accessTtl: number
  /** Refresh token lifetime, seconds. */
  refreshTtl: number
  /** Hard cap on a session's life from its start, seconds. */
  sessionMaxAge: number
  /** Grace interval for a just-rotated token presented again, seconds (0 disables it). */
  reuseInterval: number
}

export interface IssuedRefresh {
  jti: string
  iat: number
  exp: number
}

export type RotateResult =
  /** The presented token was current: newJti is now current. */
  | { status: 'rotated'; refresh: IssuedRefresh }
  /** The presented token was rotated within reuseInterval: the CURRENT token, for the caller to re-sign identically. */
  | { status: 'grace'; refresh: IssuedRefresh }
  /** Asked to keep it (ROTATE_REFRESH_TOKENS=false): the presented token was current and stays so (its jti and exp; iat unknown, 0). */
  | { status: 'kept'; refresh: IssuedRefresh }
  /** A non-current token of the family after the interval: the whole session has just been revoked. */
  | { status: 'reused' }
  /** The session was already revoked (logout, logout-all, reuse). */
  | { status: 'revoked' }
  /** No such live session (expired, never existed, past the max age, or another user's). */
  | { status: 'unknown' }

export type RefreshStatus = 'current' | 'blacklisted' | 'unknown'

/**
 * A store's raw answer to a rotation (the status its script or function returned, and the
 * current token's jti, iat and exp for 'rotated' and 'grace') as a RotateResult. Anything else
 * is a broken store, not an answer to give a client.
 */
export function rotateResult (raw: { status: unknown; jti: string | null; iat: unknown; exp: unknown }): RotateResult {
  const { status, jti } = raw
  switch (status) {
    case 'rotated':
    case 'grace':
    case 'kept':
      if (jti === null) break
      return { status, refresh: { jti, iat: Number(raw.iat), exp: Number(raw.exp) } }
    case 'reused':
    case 'revoked':
    case 'unknown':
      return { status }
  }
  throw new Error(`token store: unexpected rotate reply ${JSON.stringify(raw)}`)
}

/**
 * A session is always named with its user: every token carries both, the Redis keys of one user
 * share a hash slot (so they are built from the user id), and another user's sid is just unknown.
 */
export interface SessionRef {
  userId: string
  sid: string
}

export interface NewSession extends SessionRef {
  /** The first refresh token's jti. */
  jti: string
  /** The login's client address and user agent, for the sessions list (the agent is cut to 256 characters). */
  ip: string
  userAgent: string
  /** How the user signed in (RFC 8176 amr values); default ["pwd"]. Shown in the sessions list. */
  amr?: readonly string[]
  /** ms since the epoch; default: the store's clock */
  now?: number
}

export interface Rotation extends SessionRef {
  /** The presented refresh token's jti. */
  jti: string
  /** The jti of the token to issue if this one is current. */
  newJti: string
  /** Keep a current token current instead (ROTATE_REFRESH_TOKENS=false): 'kept', nothing rotated. */
  keep?: boolean
  /** ms since the epoch; default: the store's clock */
  now?: number
}

/** A live session as the sessions list shows it. */
export interface SessionInfo {
  sid: string
  /** ms since the epoch: when the session started (login or register). */
  created: number
  /** ms since the epoch: the last login, rotation or kept refresh (a grace answer or a listing does not move it). */
  lastUsed: number
  /** s since the epoch: when the current refresh token expires. */
  expires: number
  ip: string
  userAgent: string
  /** How the user signed in (RFC 8176 amr values). */
  amr: string[]
}

/**
 * A short-lived record of a ceremony: the ephemeral token of a sign-in waiting for its second
 * factor, a passkey challenge. Kept where sessions are (Redis or the database), so that any
 * instance can finish what another began; gone after its lifetime, once taken, or after its tries.
 */
export interface Ticket {
  value: string
  /** Wrong tries so far (failTicket). */
  tries: number
}

/** By start, newest first; equal starts by sid, so the order is stable. */
export const newestFirst = (a: SessionInfo, b: SessionInfo) => b.created - a.created || (a.sid < b.sid ? -1 : a.sid > b.sid ? 1 : 0)

/** Longest user agent kept with a session. */
export const USER_AGENT_MAX = 256

export interface TokenStore {
  readonly kind: 'redis' | 'database'
  /** Starts a session whose first refresh token is jti. exp = min(now + refreshTtl, start + sessionMaxAge). */
  createSession(s: NewSession): Promise<IssuedRefresh>
  /**
   * Atomic: under any concurrency a token is rotated at most once. The new token's iat = floor(now / 1000).
   * With `keep`, a current token stays current ('kept') and only the session's last use moves.
   */
  rotate(r: Rotation): Promise<RotateResult>
  /**
   * 'current' only for the current refresh jti of a live session; 'blacklisted' when the session
   * is known (live or a revoked tombstone) but jti is not current; else 'unknown'.
   */
  refreshStatus(s: SessionRef, jti: string): Promise<RefreshStatus>
  /** The check behind every protected request: one round trip (the liveness cache answers most of them from memory). */
  isSessionActive(s: SessionRef): Promise<boolean>
  /** The user's live sessions (any of whose tokens may still work), newest first. `now` for tests. */
  listSessions(userId: string, now?: number): Promise<SessionInfo[]>
  /** Logout, or one session revoked from the list: true if the session was live. */
  revokeSession(s: SessionRef): Promise<boolean>
  /** Logout-all: how many live sessions were revoked; `exceptSid` stays (the caller's own). */
  revokeUserSessions(userId: string, exceptSid?: string): Promise<number>
  /** Stores a ticket under `key` (replacing one there) for `ttl` seconds, good for `maxTries` wrong tries. */
  putTicket(key: string, value: string, ttl: number, maxTries: number): Promise<void>
  /** The ticket, while it lives and has tries left; null otherwise. */
  getTicket(key: string): Promise<Ticket | null>
  /** Atomic: the ticket's value, and it is gone; null when there was none to take (under any concurrency, one caller takes it). */
  takeTicket(key: string): Promise<string | null>
  /** Atomic: counts a wrong try; the tries left (0: the ticket is gone, or there was none). */
  failTicket(key: string): Promise<number>
  /**
   * A sign-in's device (an opaque fingerprint: browser and system family, network prefix) joins
   * the user's history, which keeps the DEVICE_LIMIT most recent for DEVICE_WINDOW_MS; whether it
   * was there already (seen within the window). Atomic: of two sign-ins from one new device, one is new.
   */
  rememberDevice(userId: string, device: string, now?: number): Promise<boolean>
  /** The user's device history goes (account deletion). */
  forgetDevices(userId: string): Promise<void>
  ping(): Promise<void>
  close(): Promise<void>
}

/** The amr values as a session keeps them: space-separated, ["pwd"] when none were given. */
export const packAmr = (amr: readonly string[] | undefined): string => (amr && amr.length > 0 ? amr.join(' ') : 'pwd')
export const unpackAmr = (packed: string | null | undefined): string[] => (packed ? packed.split(' ') : ['pwd'])
