// Building blocks of the auth endpoints, composed per route. Each has an $id so the OpenAPI
// document names it. Field rules follow Django's User model and SimpleJWT.
import Type from 'typebox'

export const UsernameSchema = Type.String({
  $id: 'Username',
  minLength: 1,
  maxLength: 150,
  pattern: '^[\\p{L}\\p{N}_.@+-]+$',
  description: "150 characters or fewer. Letters, digits and @/./+/-/_ only. Unique, ignoring case.",
  examples: ['john_doe']
})

export const EmailSchema = Type.String({
  $id: 'Email',
  minLength: 1,
  maxLength: 254,
  format: 'email',
  description: 'A valid email address, unique ignoring case.',
  examples: ['john@example.com']
})

export const PasswordSchema = Type.String({
  $id: 'Password',
  minLength: 1,
  description:
    "At least 8 characters, not too similar to the username, email or names, not a common password, not entirely numeric, and at most 72 bytes in UTF-8 (bcrypt's limit; longer passwords are refused, never truncated).",
  examples: ['correct-horse-battery']
})

export const NameSchema = Type.String({ maxLength: 150, examples: ['John'] })

export const JwtSchema = Type.String({
  $id: 'Jwt',
  description: 'A signed JWT.',
  examples: ['eyJhbGciOiJIUzI1NiIsImtpZCI6ImhzLTdmM2EiLCJ0eXAiOiJKV1QifQ.eyJ...']
})

export const TokenPairSchema = Type.Object(
  { access: Type.Ref('Jwt'), refresh: Type.Ref('Jwt') },
  { $id: 'TokenPair', description: 'An access token and a refresh token.' }
)

export const UserSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid', examples: ['550e8400-e29b-41d4-a716-446655440000'] }),
    username: Type.String({ examples: ['john_doe'] }),
    email: Type.String({ examples: ['john@example.com'] }),
    first_name: Type.String({ examples: ['John'] }),
    last_name: Type.String({ examples: ['Doe'] })
  },
  { $id: 'User', description: 'A user as clients see it.' }
)

export const authSchemas = [UsernameSchema, EmailSchema, PasswordSchema, JwtSchema, TokenPairSchema, UserSchema]
