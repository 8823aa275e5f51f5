// Building blocks of the auth endpoints, composed per route. Each has an $id so the OpenAPI
// document names it. Field rules follow Django's User model and SimpleJWT.
import Type, { type TStringOptions } from 'typebox'

/**
 * Text a client sends that may reach the database. PostgreSQL's text type refuses a NUL byte,
 * and a lone surrogate has no UTF-8 form: both are a 400 here (DRF refuses them on every
 * CharField), never a database error. The pattern is compiled with Unicode semantics, where
 * [\uD800-\uDFFF] matches only a surrogate that is not half of a pair.
 */
export const TEXT_PATTERN = '^[^\\u0000\\uD800-\\uDFFF]*$'
export const Text = (options: TStringOptions = {}) => Type.String({ pattern: TEXT_PATTERN, ...options })

export const UsernameSchema = Type.String({
  $id: 'Username',
  minLength: 1,
  maxLength: 150,
  pattern: '^[\\p{L}\\p{N}_.@+-]+$',
  description:
    '150 characters or fewer. Letters, digits and @/./+/-/_ only, after Unicode NFKC normalisation (the form it is stored in). ' +
    'Unique as Django compares usernames: after NFKC and case folding, so ＡＤＭＩＮ and admin are the same name.',
  examples: ['john_doe']
})

export const EmailSchema = Text({
  $id: 'Email',
  minLength: 1,
  maxLength: 254,
  format: 'email',
  description: 'A valid email address, unique ignoring case.',
  examples: ['john@example.com']
})

export const PasswordSchema = Text({
  $id: 'Password',
  minLength: 1,
  description:
    "At least 8 characters, not too similar to the username, email or names, not a common password, not entirely numeric, and at most 72 bytes in UTF-8 (bcrypt's limit; longer passwords are refused, never truncated).",
  examples: ['correct-horse-battery']
})

// Example tokens: real JWT shapes (HS256, SimpleJWT claims) with a placeholder signature.
export const ACCESS_EXAMPLE =
  'eyJhbGciOiJIUzI1NiIsImtpZCI6ImhzLTdmM2EiLCJ0eXAiOiJKV1QifQ.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwidXNlcl9pZCI6IjU1MGU4NDAwLWUyOWItNDFkNC1hNzE2LTQ0NjY1NTQ0MDAwMCIsImp0aSI6IjJmMWMwYTllNmIzZDRjNThhN2UxZjBiMmMzZDRlNWY2Iiwic2lkIjoiN2M5ZTY2NzktNzQyNS00MGRlLTk0NGItZTA3ZmMxZjkwYWU3IiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDAzMDB9.Zm9yLWRvY3VtZW50YXRpb24tb25seQ'
export const REFRESH_EXAMPLE =
  'eyJhbGciOiJIUzI1NiIsImtpZCI6ImhzLTdmM2EiLCJ0eXAiOiJKV1QifQ.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCIsInVzZXJfaWQiOiI1NTBlODQwMC1lMjliLTQxZDQtYTcxNi00NDY2NTU0NDAwMDAiLCJqdGkiOiI5YjRlMWQyYzNhNWY0ZTZkOGM3YjBhMWYyZTNkNGM1YiIsInNpZCI6IjdjOWU2Njc5LTc0MjUtNDBkZS05NDRiLWUwN2ZjMWY5MGFlNyIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDg2NDAwfQ.Zm9yLWRvY3VtZW50YXRpb24tb25seQ'
export const USER_EXAMPLE = {
  id: '550e8400-e29b-41d4-a716-446655440000',
  username: 'john_doe',
  email: 'john@example.com',
  first_name: 'John',
  last_name: 'Doe',
  email_verified: false
}

export const JwtSchema = Type.String({
  $id: 'Jwt',
  description: 'A signed JWT (header `alg` and `kid`; claims `token_type`, `user_id`, `jti`, `sid`, `iat`, `exp`, and `iss`/`aud` when configured).',
  pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*$',
  examples: [ACCESS_EXAMPLE]
})

/** `refresh` in a body that issues tokens: absent in cookie mode (the token is in the refresh cookie). */
export const RefreshInBody = Type.Optional(
  Type.Ref('Jwt', { description: 'The refresh token. Absent when the request sent `X-Auth-Mode: cookie`: it is then in the refresh cookie (`Set-Cookie`).' })
)

export const TokenPairSchema = Type.Object(
  { access: Type.Ref('Jwt'), refresh: RefreshInBody },
  {
    $id: 'TokenPair',
    description:
      'An access token (default lifetime 5 minutes) and a refresh token (1 day) of one session. In cookie mode (`X-Auth-Mode: cookie`) the refresh token is set as an HttpOnly cookie instead.',
    examples: [{ access: ACCESS_EXAMPLE, refresh: REFRESH_EXAMPLE }]
  }
)

export const UserSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid', examples: ['550e8400-e29b-41d4-a716-446655440000'] }),
    username: Type.String({ examples: ['john_doe'] }),
    email: Type.String({ examples: ['john@example.com'] }),
    first_name: Type.String({ examples: ['John'] }),
    last_name: Type.String({ examples: ['Doe'] }),
    email_verified: Type.Boolean({ description: 'Whether the link of the verification e-mail was followed.', examples: [false] })
  },
  { $id: 'User', description: 'A user as clients see it.', examples: [USER_EXAMPLE] }
)

export const SESSION_EXAMPLE = {
  id: 'b3JkZXItb2YtdGhlLXNpZA',
  created: '2026-11-21T09:00:00Z',
  last_used: '2026-11-21T09:12:03Z',
  expires: '2026-11-22T09:12:03Z',
  ip: '203.0.113.7',
  user_agent: 'MyApp/2.1 (iPhone)',
  amr: ['pwd', 'otp', 'mfa'],
  auth_time: 1795251600,
  current: true
}

export const SessionSchema = Type.Object(
  {
    id: Type.String({ description: 'The session id: the `sid` claim of its tokens.' }),
    created: Type.String({ format: 'date-time', description: 'When the session started (login or register).' }),
    last_used: Type.String({ format: 'date-time', description: 'The last login or refresh (listing does not move it).' }),
    expires: Type.String({ format: 'date-time', description: "When the session's current refresh token expires." }),
    ip: Type.String({ description: "The login's client address." }),
    user_agent: Type.String({ description: "The login's User-Agent, cut to 256 characters." }),
    amr: Type.Array(Type.String(), { description: 'How the user signed in (RFC 8176): `["pwd"]`, `["pwd", "otp", "mfa"]`, `["pwd", "hwk", "mfa"]` or `["hwk", "mfa"]` (a passkey).' }),
    auth_time: Type.Integer({ description: 'When the user signed in (seconds since the epoch): the `auth_time` claim of its tokens.' }),
    current: Type.Boolean({ description: 'The session of the access token that asked.' })
  },
  { $id: 'Session', description: 'A live session of the user (a signed-in device).', examples: [SESSION_EXAMPLE] }
)

export const authSchemas = [UsernameSchema, EmailSchema, PasswordSchema, JwtSchema, TokenPairSchema, UserSchema, SessionSchema]
