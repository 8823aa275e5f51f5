// One small error module: every error a route can answer with is an ApiError carrying the exact
// status, body and headers of the HTTP contract. The app's error handler sends them as they are
// and turns everything else into DRF-style bodies or a bare 500.

export type ErrorBody = Record<string, unknown>

export class ApiError extends Error {
  constructor (
    readonly statusCode: number,
    readonly body: ErrorBody,
    readonly headers: Record<string, string> = {}
  ) {
    super(typeof body.detail === 'string' ? body.detail : `HTTP ${statusCode}`)
    this.name = 'ApiError'
  }
}

export const WWW_AUTHENTICATE = 'Bearer realm="api"'

export const TOKEN_INVALID = 'Token is invalid or expired'
export const TOKEN_BLACKLISTED = 'Token is blacklisted'
export const REQUIRED = 'This field is required.'

/** 401 on a protected route without credentials. */
export const notAuthenticated = () =>
  new ApiError(401, { detail: 'Authentication credentials were not provided.' }, { 'www-authenticate': WWW_AUTHENTICATE })

/** 401 on a protected route with a bad, expired, revoked or wrong-type access token. */
export const accessTokenNotValid = () =>
  new ApiError(
    401,
    {
      detail: 'Given token not valid for any token type',
      code: 'token_not_valid',
      messages: [{ token_class: 'AccessToken', token_type: 'access', message: TOKEN_INVALID }]
    },
    { 'www-authenticate': WWW_AUTHENTICATE }
  )

/** 401 from the refresh and verify endpoints. */
export const tokenNotValid = (detail: string = TOKEN_INVALID) => new ApiError(401, { detail, code: 'token_not_valid' })

/** 400 with DRF's field-keyed lists of messages. */
export const fieldErrors = (errors: Record<string, string[]>) => new ApiError(400, errors)

export const throttled = (seconds: number) =>
  new ApiError(
    429,
    { detail: `Request was throttled. Expected available in ${seconds} second${seconds === 1 ? '' : 's'}.` },
    { 'retry-after': String(seconds) }
  )

export type Dependency = 'database' | 'token store'

/**
 * A dependency is down, slow past DEPENDENCY_TIMEOUT, or refusing writes (made by the outages
 * guard from the client's error, its `cause`). Answered with serviceUnavailable(), never a 500.
 */
export class DependencyError extends Error {
  constructor (
    readonly dependency: Dependency,
    /** A short, stable name of what went wrong: down, timeout, oom, readonly... */
    readonly kind: string,
    options?: { cause?: unknown }
  ) {
    super(`${dependency} unavailable (${kind})`, options)
    this.name = 'DependencyError'
  }
}

/** Seconds a client is asked to wait after a 503. */
export const RETRY_AFTER_UNAVAILABLE = 5

/** 503 while the database or the token store is unavailable. */
export const serviceUnavailable = () =>
  new ApiError(503, { detail: 'Service temporarily unavailable.' }, { 'retry-after': String(RETRY_AFTER_UNAVAILABLE) })
