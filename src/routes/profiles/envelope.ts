// API_PROFILE=envelope: the dialect of seed backend 004 (a DRF API that wraps its answers). Its
// clients read register's answer from `content` (with an integer `pk` and `profile_image`),
// refresh at /api/auth/refresh/ expecting only {"access"} (no rotation), log out with
// `refresh_token` and no Bearer token, and read every error from {"error": ...}: a message, or
// the field errors themselves.
import Type from 'typebox'
import type { Dialect } from './types.js'

const TOKEN = 'eyJhbGciOiJIUzI1NiIsImtpZCI6IiJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIn0.c2lnbmF0dXJl'
const TokensSchema = Type.Object({ refresh: Type.Optional(Type.String()), access: Type.String() })

export const envelope: Dialect = {
  name: 'envelope',
  summary:
    '**Profile `envelope`.** Register answers `{"content": {...}}` with the integer `pk`; login `{"refresh", "access"}`; `/api/auth/refresh/` ' +
    '`{"access"}` (the refresh token is kept, not rotated); logout takes `{"refresh_token"}` without a Bearer token; every error is ' +
    '`{"error": ...}`, a message or the field errors.',
  routes: {
    register: {
      answer: {
        status: 201,
        reshape: (b) => ({
          content: {
            pk: b.pk,
            username: b.username,
            email: b.email,
            first_name: b.first_name,
            last_name: b.last_name,
            profile_image: null,
            ...(b.tokens === undefined ? {} : { tokens: b.tokens })
          }
        }),
        schema: Type.Object({
          content: Type.Object({
            pk: Type.Integer({ description: "The user's number: assigned at creation, never reused (the `user_id` claim stays the UUID)." }),
            username: Type.String(),
            email: Type.String(),
            first_name: Type.String(),
            last_name: Type.String(),
            profile_image: Type.Null(),
            tokens: Type.Optional(TokensSchema)
          })
        }),
        description: 'The new user and the first tokens of its session (none while the e-mail address waits for verification).',
        example: { content: { pk: 42, username: 'john_doe', email: 'john@example.com', first_name: 'John', last_name: 'Doe', profile_image: null, tokens: { refresh: TOKEN, access: TOKEN } } }
      }
    },
    login: {
      aliases: { email: 'username' },
      answer: {
        status: 200,
        reshape: (b) => ({ ...(b.refresh === undefined ? {} : { refresh: b.refresh }), access: b.access }),
        schema: TokensSchema,
        description: 'Signed in: the tokens of a new session.',
        example: { refresh: TOKEN, access: TOKEN }
      },
      error: (status) => (status === 401 ? 'No active account found with the given credentials' : undefined)
    },
    apiAuthRefresh: {
      answer: {
        status: 200,
        reshape: (b) => ({ access: b.access }),
        schema: Type.Object({ access: Type.String({ description: 'A new access token; the refresh token stays the same.' }) }),
        description: 'A new access token.',
        example: { access: TOKEN }
      },
      error: (status) => (status === 401 ? 'Token is invalid or expired' : undefined)
    },
    logout: {
      noBearer: true,
      answer: {
        status: 200,
        reshape: () => ({ detail: 'Successfully logged out.' }),
        schema: Type.Object({ detail: Type.String() }),
        description: 'The session of the refresh token is revoked.',
        example: { detail: 'Successfully logged out.' }
      },
      error: (status, body) => {
        if (status !== 400) return undefined
        return body.error === 'Refresh token required' ? 'Refresh token required.' : 'Invalid or expired refresh token.'
      }
    }
  },
  envelope: (body) => (body.error !== undefined ? { error: body.error } : { error: typeof body.detail === 'string' ? body.detail : body }),
  errorSchema: Type.Object({
    error: Type.Union([Type.String(), Type.Record(Type.String(), Type.Array(Type.String()))], { description: 'A message, or the field-keyed lists of messages.' })
  })
}
