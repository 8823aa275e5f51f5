// Per-route request bodies and response bodies, composed from the building blocks.
import Type, { type Static, type TSchema } from 'typebox'
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
function ref<T extends TSchema> (schema: T & { $id?: unknown }) {
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

/** Step-up: the second factor of a sensitive operation, unless the access token's session gave one within REAUTH_MAX_AGE. */
const StepUpCode = Type.Optional(
  Text({
    description:
      'For a user with a second factor: a TOTP code or a recovery code, unless the access token\'s session gave its second factor within REAUTH_MAX_AGE (400 `{"code": ["This field is required."]}` otherwise).',
    examples: ['123456']
  })
)

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

// The second factor.
const EPHEMERAL_EXAMPLE = 'k3Jx0c9YpE2m8Vq1sT7uW4zA6bD5fH0jL2nP9rS3tU8'
export const MFA_REQUIRED_EXAMPLE = { mfa_required: true, ephemeral_token: EPHEMERAL_EXAMPLE, methods: ['totp', 'recovery_code'] }
export const MfaRequiredSchema = Type.Object(
  {
    mfa_required: Type.Literal(true),
    ephemeral_token: Type.String({ description: 'For POST /api/auth/login/code/: lives 5 minutes, works once, dies after 5 wrong codes.' }),
    methods: Type.Array(Type.Union([Type.Literal('totp'), Type.Literal('recovery_code'), Type.Literal('passkey')]), {
      description: 'The second factors the user can give.'
    })
  },
  {
    $id: 'MfaRequired',
    description: 'The password was right and the user has two-factor authentication on: no tokens yet; the second step finishes the sign-in.',
    examples: [MFA_REQUIRED_EXAMPLE]
  }
)

const Credential = Type.Object({}, {
  additionalProperties: true,
  description: 'The WebAuthn credential as JSON (PublicKeyCredential.toJSON(), or @simplewebauthn/browser\'s result).'
})

export const SecondStepBodySchema = Type.Object(
  {
    ephemeral_token: Text({ minLength: 1, description: 'From the answer of the first step.', examples: [EPHEMERAL_EXAMPLE] }),
    code: Type.Optional(Text({ minLength: 1, description: 'A TOTP code (6 digits) or a recovery code.', examples: ['123456'] })),
    credential: Type.Optional(Credential)
  },
  { description: 'Either `code` or `credential` (a passkey assertion for the options of /api/auth/passkeys/login/options/).', examples: [{ ephemeral_token: EPHEMERAL_EXAMPLE, code: '123456' }] }
)

export const CodeBodySchema = Type.Object(
  { code: Text({ minLength: 1, description: 'A code of the authenticator app for the new secret.', examples: ['123456'] }) },
  { examples: [{ code: '123456' }] }
)

export const PasswordAndCodeBodySchema = Type.Object(
  { password: secret('The current password.', 'correct-horse-battery'), code: StepUpCode },
  { examples: [{ password: 'correct-horse-battery', code: '123456' }] }
)

export const MfaStatusSchema = Type.Object(
  {
    totp: Type.Boolean({ description: 'TOTP is on (confirmed).' }),
    recovery_codes_left: Type.Integer({ minimum: 0, description: 'Unused recovery codes (0 without TOTP).' }),
    passkeys: Type.Integer({ minimum: 0 })
  },
  { examples: [{ totp: true, recovery_codes_left: 9, passkeys: 1 }] }
)

export const TotpSetupSchema = Type.Object(
  {
    secret: Type.String({ description: 'The base32 secret, for typing into an authenticator app.' }),
    otpauth_url: Type.String({ description: 'otpauth://totp/<MFA_ISSUER>:<username>?secret=…&issuer=<MFA_ISSUER>' }),
    qr_svg: Type.String({ description: 'The otpauth URL as a QR code, an SVG document.' })
  },
  {
    examples: [
      {
        secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP',
        otpauth_url: 'otpauth://totp/Auth%20service:john_doe?issuer=Auth%20service&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&algorithm=SHA1&digits=6&period=30',
        qr_svg: '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 33 33">…</svg>'
      }
    ]
  }
)

export const RecoveryCodesSchema = Type.Object(
  { recovery_codes: Type.Array(Type.String(), { minItems: 10, maxItems: 10, description: 'Ten single-use codes, shown this once.' }) },
  { examples: [{ recovery_codes: ['ab3de-f9h2k', 'mn4pq-rs5tu', 'vw6xy-z7a8b', 'cd9ef-gh2jk', 'mn3pq-rs4tu', 'vw5xy-z6a7b', 'cd8ef-gh9jk', 'mn2pq-rs3tu', 'vw4xy-z5a6b', 'cd7ef-gh8jk'] }] }
)

const PASSKEY_EXAMPLE = { id: 'q1w2e3r4t5y6u7i8o9p0', name: 'Laptop', created: '2026-12-03T09:00:00Z', last_used: '2026-12-03T09:12:03Z' }
export const PasskeySchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    created: Type.String({ format: 'date-time' }),
    last_used: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'The last sign-in with it; null before the first.' })
  },
  { examples: [PASSKEY_EXAMPLE] }
)
export const PasskeyListSchema = Type.Array(PasskeySchema, { examples: [[PASSKEY_EXAMPLE]] })

export const PasskeyRegisterBodySchema = Type.Object(
  {
    credential: Credential,
    name: Type.Optional(Text({ maxLength: 64, description: 'A name to tell it apart; default "Passkey".', examples: ['Laptop'] })),
    code: StepUpCode
  },
  { description: 'The attestation for the options of /api/auth/passkeys/register/options/.' }
)

export const PasskeyDeleteBodySchema = Type.Union([Type.Object({ code: StepUpCode }), Type.Null()], { description: 'Optional: the step-up code.' })

export const PasskeyLoginBodySchema = Type.Object(
  { credential: Credential },
  { description: 'The assertion for the options of /api/auth/passkeys/login/options/.' }
)

export const CreationOptionsSchema = Type.Object({}, {
  additionalProperties: true,
  description: 'PublicKeyCredentialCreationOptionsJSON (WebAuthn Level 3), for PublicKeyCredential.parseCreationOptionsFromJSON() or @simplewebauthn/browser.'
})
export const RequestOptionsSchema = Type.Object({}, {
  additionalProperties: true,
  description: 'PublicKeyCredentialRequestOptionsJSON (WebAuthn Level 3), for PublicKeyCredential.parseRequestOptionsFromJSON() or @simplewebauthn/browser.'
})
