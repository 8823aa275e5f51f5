// API_PROFILE=camelcase: the dialect of seed backend 002 (an Express-style API answering in
// camelCase, with Spanish messages). Its clients read `token` and `refreshToken`, refresh with
// `refreshToken` and keep it (no rotation), log out with the refresh token alone, and read every
// error from {"error": "<message>"}.
import Type from 'typebox'
import { oneMessage, type Dialect } from './types.js'

const TOKEN = 'eyJhbGciOiJIUzI1NiIsImtpZCI6IiJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIn0.c2lnbmF0dXJl'
const REFRESH_REQUIRED = 'Refresh token requerido'

export const camelcase: Dialect = {
  name: 'camelcase',
  summary:
    '**Profile `camelcase`.** Login answers `{"token", "refreshToken"}`; `/api/auth/refresh` takes `{"refreshToken"}` and answers `{"token"}` ' +
    '(the refresh token is kept, not rotated); logout takes `{"refreshToken"}` without a Bearer token; every error is `{"error": "<message>"}`.',
  routes: {
    login: {
      // The clients of that backend sign in with their e-mail address.
      aliases: { email: 'username' },
      answer: {
        status: 200,
        reshape: (b) => ({ token: b.access, ...(b.refresh === undefined ? {} : { refreshToken: b.refresh }) }),
        schema: Type.Object({
          token: Type.String({ description: 'The access token (5 minutes).' }),
          refreshToken: Type.Optional(Type.String({ description: 'The refresh token (absent in cookie mode: it is the cookie).' }))
        }),
        description: 'Signed in: the access and refresh tokens of a new session.',
        example: { token: TOKEN, refreshToken: TOKEN }
      },
      error: (status, body) => {
        if (status === 401) return 'Invalid credentials'
        if (status === 429) return 'Demasiados intentos de login, intenta más tarde.'
        // A missing or malformed field; a refusal of the account itself keeps its words.
        if (status === 400 && body.non_field_errors === undefined) return 'Datos incompletos'
        return undefined
      }
    },
    apiAuthRefresh: {
      answer: {
        status: 200,
        reshape: (b) => ({ token: b.access }),
        schema: Type.Object({ token: Type.String({ description: 'A new access token; the refresh token stays the same.' }) }),
        description: 'A new access token.',
        example: { token: TOKEN }
      },
      error: (status) => (status === 400 ? REFRESH_REQUIRED : status === 401 ? 'Refresh token inválido o expirado' : undefined)
    },
    logout: {
      noBearer: true,
      answer: {
        status: 200,
        reshape: () => ({ message: 'Sesión cerrada correctamente' }),
        schema: Type.Object({ message: Type.String() }),
        description: 'The session of the refresh token is revoked.',
        example: { message: 'Sesión cerrada correctamente' }
      },
      error: (status, body) => (status === 400 && body.error === 'Refresh token required' ? REFRESH_REQUIRED : undefined)
    }
  },
  envelope: (body) => ({ error: oneMessage(body) }),
  errorSchema: Type.Object({ error: Type.String({ description: 'What went wrong, in one sentence.' }) })
}
