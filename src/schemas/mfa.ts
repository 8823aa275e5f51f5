// The second factor's request and response bodies: TOTP, recovery codes, the sign-in's second
// step, step-up, passkeys.
import Type from 'typebox'
import { Text } from './auth.js'

const secret = (description: string, example: string) => Text({ minLength: 1, description, examples: [example] })

/** Step-up: the second factor of a sensitive operation, unless the access token's session gave one within REAUTH_MAX_AGE. */
export const StepUpCode = Type.Optional(
  Text({
    description:
      'For a user with a second factor: a TOTP code or a recovery code, unless the access token\'s session gave its second factor within REAUTH_MAX_AGE (400 `{"code": ["This field is required."]}` otherwise).',
    examples: ['123456']
  })
)

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
const CREDENTIAL_ID = 'sX3hbW9kZWwtY3JlZGVudGlhbC1pZA'
const ATTESTATION_EXAMPLE = {
  id: CREDENTIAL_ID,
  rawId: CREDENTIAL_ID,
  type: 'public-key',
  response: { clientDataJSON: 'eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwi…', attestationObject: 'o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YVi…', transports: ['internal'] },
  clientExtensionResults: {},
  authenticatorAttachment: 'platform'
}
const ASSERTION_EXAMPLE = {
  id: CREDENTIAL_ID,
  rawId: CREDENTIAL_ID,
  type: 'public-key',
  response: { clientDataJSON: 'eyJ0eXBlIjoid2ViYXV0aG4uZ2V0Iiwi…', authenticatorData: 'SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAQ', signature: 'MEUCIQ…', userHandle: 'VQ6EAOKbQdSnFkRmVUQAAA' },
  clientExtensionResults: {},
  authenticatorAttachment: 'platform'
}

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
    name: Type.Optional(Text({ maxLength: 64, description: 'A name to tell it apart; default "Passkey".', examples: ['Laptop'] }))
  },
  { description: 'The attestation for the options of /api/auth/passkeys/register/options/.', examples: [{ credential: ATTESTATION_EXAMPLE, name: 'Laptop' }] }
)

export const StepUpBodySchema = Type.Union([Type.Object({ code: StepUpCode }), Type.Null()], { description: 'Optional: the step-up code.', examples: [{ code: '123456' }] })

export const PasskeyLoginBodySchema = Type.Object(
  { credential: Credential },
  { description: 'The assertion for the options of /api/auth/passkeys/login/options/.', examples: [{ credential: ASSERTION_EXAMPLE }] }
)

export const CreationOptionsSchema = Type.Object({}, {
  additionalProperties: true,
  description: 'PublicKeyCredentialCreationOptionsJSON (WebAuthn Level 3), for PublicKeyCredential.parseCreationOptionsFromJSON() or @simplewebauthn/browser.',
  examples: [
    {
      challenge: 'dGhlLWNoYWxsZW5nZS1vZi10aGUtY2VyZW1vbnk',
      rp: { name: 'Auth service', id: 'auth.example.com' },
      user: { id: 'VQ6EAOKbQdSnFkRmVUQAAA', name: 'john_doe', displayName: '' },
      pubKeyCredParams: [{ alg: -8, type: 'public-key' }, { alg: -7, type: 'public-key' }, { alg: -257, type: 'public-key' }],
      timeout: 300000,
      attestation: 'none',
      excludeCredentials: [],
      authenticatorSelection: { residentKey: 'required', userVerification: 'required', requireResidentKey: true },
      extensions: { credProps: true },
      hints: []
    }
  ]
})
export const RequestOptionsSchema = Type.Object({}, {
  additionalProperties: true,
  description: 'PublicKeyCredentialRequestOptionsJSON (WebAuthn Level 3), for PublicKeyCredential.parseRequestOptionsFromJSON() or @simplewebauthn/browser.',
  examples: [{ rpId: 'auth.example.com', challenge: 'dGhlLWNoYWxsZW5nZS1vZi10aGUtY2VyZW1vbnk', timeout: 300000, userVerification: 'required' }]
})
