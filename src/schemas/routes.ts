// Per-route request bodies and response bodies, composed from the building blocks.
import Type from 'typebox'
import { ACCESS_EXAMPLE, REFRESH_EXAMPLE, Text, USER_EXAMPLE } from './auth.js'

const ref = (id: string) => Type.Ref(id)

export const RegisterBodySchema = Type.Object(
  {
    username: ref('Username'),
    email: ref('Email'),
    password: ref('Password'),
    password2: Type.Optional(Text({ description: 'When sent, must equal password.' })),
    first_name: Type.Optional(Text({ maxLength: 150, examples: ['John'] })),
    last_name: Type.Optional(Text({ maxLength: 150, examples: ['Doe'] }))
  },
  {
    description: 'Unknown fields are ignored (DRF).',
    examples: [
      { username: 'john_doe', email: 'john@example.com', password: 'correct-horse-battery', password2: 'correct-horse-battery', first_name: 'John', last_name: 'Doe' }
    ]
  }
)

export const CredentialsBodySchema = Type.Object(
  {
    username: Text({ minLength: 1, description: 'The username, or the email address of the account.', examples: ['john_doe'] }),
    password: Text({ minLength: 1, examples: ['correct-horse-battery'] })
  },
  { examples: [{ username: 'john_doe', password: 'correct-horse-battery' }] }
)

const refreshAlias = (description: string) => Type.Optional(Type.String({ minLength: 1, description }))
export const RefreshBodySchema = Type.Object(
  {
    refresh: refreshAlias('The refresh token. Required, under this name or one of its aliases.'),
    refreshToken: refreshAlias('Alias of `refresh`.'),
    refresh_token: refreshAlias('Alias of `refresh`.')
  },
  { examples: [{ refresh: REFRESH_EXAMPLE }] }
)

/** The refresh token of a body, under any of its accepted names (SimpleJWT's and common aliases). */
export function refreshTokenOf(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined
  const b = body as Record<string, unknown>
  return b.refresh ?? b.refreshToken ?? b.refresh_token
}

export const VerifyBodySchema = Type.Object(
  { token: Type.String({ minLength: 1, description: 'An access or refresh token.' }) },
  { examples: [{ token: ACCESS_EXAMPLE }] }
)

export const RegisteredSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    username: Type.String(),
    email: Type.String(),
    first_name: Type.String(),
    last_name: Type.String(),
    tokens: ref('TokenPair')
  },
  { examples: [{ ...USER_EXAMPLE, tokens: { access: ACCESS_EXAMPLE, refresh: REFRESH_EXAMPLE } }] }
)

export const LoginResponseSchema = Type.Object(
  { access: ref('Jwt'), refresh: ref('Jwt'), user: ref('User') },
  { examples: [{ access: ACCESS_EXAMPLE, refresh: REFRESH_EXAMPLE, user: USER_EXAMPLE }] }
)

export const MessageSchema = Type.Object({ message: Type.String() })

export const EmptySchema = Type.Object({}, { additionalProperties: false, examples: [{}] })
