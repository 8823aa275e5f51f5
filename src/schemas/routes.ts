// Per-route request bodies and response bodies, composed from the building blocks.
import Type, { type Static, type TSchema } from 'typebox'
import { StepUpCode } from './mfa.js'
import {
  ACCESS_EXAMPLE,
  EmailSchema,
  JwtSchema,
  PasswordSchema,
  REFRESH_EXAMPLE,
  RefreshInBody,
  SessionSchema,
  Text,
  TokenPairSchema,
  USER_EXAMPLE,
  UsernameSchema,
  UserSchema
} from './auth.js'

/** A $ref to a shared schema (by its $id) that keeps the schema's static type for the handlers. */
export function ref<T extends TSchema> (schema: T & { $id?: unknown }) {
  if (typeof schema.$id !== 'string') throw new Error('a shared schema needs an $id')
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id))
}

export const RegisterBodySchema = Type.Object(
  {
    username: ref(UsernameSchema),
    email: ref(EmailSchema),
    password: ref(PasswordSchema),
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
export function refreshTokenOf (body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined
  const b = body as Record<string, unknown>
  return b.refresh ?? b.refreshToken ?? b.refresh_token
}

export const VerifyBodySchema = Type.Object(
  { token: Type.String({ minLength: 1, description: 'An access or refresh token.' }) },
  { examples: [{ token: ACCESS_EXAMPLE }] }
)

export const RegisteredSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  username: Type.String(),
  email: Type.String(),
  first_name: Type.String(),
  last_name: Type.String(),
  email_verified: Type.Boolean(),
  tokens: Type.Optional(ref(TokenPairSchema)),
  detail: Type.Optional(Type.String({ description: 'With EMAIL_VERIFICATION=mandatory, instead of tokens.' }))
})
export const REGISTERED_EXAMPLES = {
  session: { summary: 'A session starts (EMAIL_VERIFICATION none or optional)', value: { ...USER_EXAMPLE, tokens: { access: ACCESS_EXAMPLE, refresh: REFRESH_EXAMPLE } } },
  mandatory: { summary: 'EMAIL_VERIFICATION=mandatory: no session until the e-mail is verified', value: { ...USER_EXAMPLE, detail: 'Verification e-mail sent.' } }
}

export const LOGIN_EXAMPLE = { access: ACCESS_EXAMPLE, refresh: REFRESH_EXAMPLE, user: USER_EXAMPLE }
export const LoginResponseSchema = Type.Object({ access: ref(JwtSchema), refresh: RefreshInBody, user: ref(UserSchema) }, { examples: [LOGIN_EXAMPLE] })

export const MessageSchema = Type.Object({ message: Type.String() })
export const DetailSchema = Type.Object({ detail: Type.String() })

export const LogoutAllBodySchema = Type.Object(
  { except_current: Type.Optional(Type.Boolean({ default: false, description: "true: every session but the caller's." })) },
  { description: 'Optional: no body revokes every session.', examples: [{ except_current: true }] }
)

export const ProfileBodySchema = Type.Object(
  {
    first_name: Type.Optional(Text({ maxLength: 150, examples: ['John'] })),
    last_name: Type.Optional(Text({ maxLength: 150, examples: ['Doe'] }))
  },
  { description: 'Only the names can change here; other fields are ignored.', examples: [{ first_name: 'Johnny' }] }
)

const secret = (description: string, example: string) => Text({ minLength: 1, description, examples: [example] })

export const DeleteAccountBodySchema = Type.Object(
  { password: secret('The current password, to confirm.', 'correct-horse-battery'), code: StepUpCode },
  { examples: [{ password: 'correct-horse-battery' }] }
)

export const PasswordChangeBodySchema = Type.Object(
  {
    old_password: secret('The current password.', 'correct-horse-battery'),
    new_password1: secret('The new password (the same rules as at register).', 'new-horse-battery-staple'),
    new_password2: secret('The new password again.', 'new-horse-battery-staple'),
    code: StepUpCode
  },
  { examples: [{ old_password: 'correct-horse-battery', new_password1: 'new-horse-battery-staple', new_password2: 'new-horse-battery-staple' }] }
)

export const EmailBodySchema = Type.Object({ email: ref(EmailSchema) }, { examples: [{ email: 'john@example.com' }] })

export const EmailChangeBodySchema = Type.Object(
  { new_email: ref(EmailSchema), password: secret('The current password, to confirm.', 'correct-horse-battery'), code: StepUpCode },
  { examples: [{ new_email: 'john.new@example.com', password: 'correct-horse-battery' }] }
)

const CHANGE_KEY = 'NTUwZTg0MDAtZTI5Yi00MWQ0LWE3MTYtNDQ2NjU1NDQwMDAw.am9obi5uZXdAZXhhbXBsZS5jb20.1h7ka2m.c2lnbmF0dXJl'
export const EmailChangeConfirmBodySchema = Type.Object(
  { key: Text({ minLength: 1, maxLength: 1000, description: 'The `key` of the link mailed to the new address.', examples: [CHANGE_KEY] }) },
  { examples: [{ key: CHANGE_KEY }] }
)

export const PasswordResetConfirmBodySchema = Type.Object(
  {
    uid: Text({ minLength: 1, description: 'The `uid` of the e-mailed link.', examples: ['NTUwZTg0MDAtZTI5Yi00MWQ0LWE3MTYtNDQ2NjU1NDQwMDAw'] }),
    token: Text({ minLength: 1, description: 'The `token` of the e-mailed link.', examples: ['1h7ka2m-3f9a0c1e5b7d2f4a6c8e0b1d3f5a7c9e'] }),
    new_password1: secret('The new password (the same rules as at register).', 'new-horse-battery-staple'),
    new_password2: secret('The new password again.', 'new-horse-battery-staple')
  },
  {
    examples: [
      {
        uid: 'NTUwZTg0MDAtZTI5Yi00MWQ0LWE3MTYtNDQ2NjU1NDQwMDAw',
        token: '1h7ka2m-3f9a0c1e5b7d2f4a6c8e0b1d3f5a7c9e',
        new_password1: 'new-horse-battery-staple',
        new_password2: 'new-horse-battery-staple'
      }
    ]
  }
)

export const VerifyEmailBodySchema = Type.Object(
  { key: Text({ minLength: 1, description: 'The `key` of the e-mailed link.', examples: ['NTUwZTg0MDAtZTI5Yi00MWQ0LWE3MTYtNDQ2NjU1NDQwMDAw.1h7ka2m.c2lnbmF0dXJl'] }) },
  { examples: [{ key: 'NTUwZTg0MDAtZTI5Yi00MWQ0LWE3MTYtNDQ2NjU1NDQwMDAw.1h7ka2m.c2lnbmF0dXJl' }] }
)

export const SessionListSchema = Type.Array(ref(SessionSchema), { description: 'Newest first (by `created`).' })

export const EmptySchema = Type.Object({}, { additionalProperties: false, examples: [{}] })
