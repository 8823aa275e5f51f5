// What cookie mode adds to the routes' documents (API.md, "Web clients"): the X-Auth-Mode header,
// the Set-Cookie it answers with and the refresh cookie as a way to authenticate (the CSRF 403 is
// in responses.ts, with the other shared answers).
import Type from 'typebox'

/** The request header that chooses cookie mode. */
export const authModeHeaders = Type.Object({
  'x-auth-mode': Type.Optional(
    Type.String({
      description:
        '`cookie`: cookie mode for web apps. The refresh token travels as an HttpOnly cookie scoped to `/api/auth/` (set by the answer, ' +
        'read by refresh and logout) and never in a body. Any other value, or none: tokens in the body.',
      examples: ['cookie']
    })
  )
})

/** The Set-Cookie header of answers that issue tokens in cookie mode. */
export const setCookieHeader = {
  'Set-Cookie': {
    type: 'string' as const,
    // Not on every answer (unlike Retry-After on a 429): only in cookie mode.
    'x-sent-when': 'cookie mode',
    description:
      'Cookie mode only: `refresh_token=<jwt>; Max-Age=<REFRESH_TOKEN_TTL>; Path=/api/auth/; HttpOnly; SameSite=Strict` (and `Secure` in production; ' +
      'the access cookie too with ACCESS_COOKIE); `Max-Age=0` when the cookie is cleared.'
  }
}

/** Routes that accept the refresh token in the body or as the refresh cookie. */
export const bodyOrRefreshCookie: Array<Record<string, string[]>> = [{}, { refreshCookie: [] }]
