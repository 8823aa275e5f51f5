// Building blocks shared by every area: error bodies. Each has an $id so the OpenAPI document
// names it under components/schemas. Error bodies are closed (no extra properties) because the
// error handler sends them as they are: the contract test then catches any stray field.
import Type from 'typebox'

export const DetailErrorSchema = Type.Object(
  { detail: Type.String() },
  {
    $id: 'DetailError',
    description: 'An error with a human-readable detail (DRF).',
    additionalProperties: false,
    examples: [{ detail: 'Invalid credentials' }]
  }
)

export const FieldErrorsSchema = Type.Object(
  {},
  {
    $id: 'FieldErrors',
    description:
      "Field-keyed lists of messages, every problem at once (DRF's ValidationError); `non_field_errors` for the body as a whole. Messages are Django's own wording.",
    additionalProperties: Type.Array(Type.String()),
    examples: [
      {
        username: ['A user with that username already exists.'],
        password: ['This password is too short. It must contain at least 8 characters.']
      }
    ]
  }
)

export const TokenErrorSchema = Type.Object(
  {
    detail: Type.Union([Type.Literal('Token is invalid or expired'), Type.Literal('Token is blacklisted')]),
    code: Type.Literal('token_not_valid')
  },
  {
    $id: 'TokenError',
    description: 'The token was rejected (SimpleJWT): invalid, expired, wrong type, or blacklisted (rotated or revoked).',
    additionalProperties: false,
    examples: [{ detail: 'Token is invalid or expired', code: 'token_not_valid' }]
  }
)

export const NotAuthenticatedSchema = Type.Object(
  { detail: Type.Literal('Authentication credentials were not provided.') },
  {
    $id: 'NotAuthenticated',
    description: 'A protected route was called without an `Authorization: Bearer` header.',
    additionalProperties: false,
    examples: [{ detail: 'Authentication credentials were not provided.' }]
  }
)

export const AccessTokenInvalidSchema = Type.Object(
  {
    detail: Type.Literal('Given token not valid for any token type'),
    code: Type.Literal('token_not_valid'),
    messages: Type.Array(
      Type.Object(
        { token_class: Type.String(), token_type: Type.String(), message: Type.String() },
        { additionalProperties: false }
      )
    )
  },
  {
    $id: 'AccessTokenInvalid',
    description: 'The access token is bad, expired, revoked (its session ended), of the wrong type or signed with another algorithm.',
    additionalProperties: false,
    examples: [
      {
        detail: 'Given token not valid for any token type',
        code: 'token_not_valid',
        messages: [{ token_class: 'AccessToken', token_type: 'access', message: 'Token is invalid or expired' }]
      }
    ]
  }
)

export const AuthErrorSchema = Type.Union([Type.Ref('NotAuthenticated'), Type.Ref('AccessTokenInvalid')], {
  $id: 'AuthError',
  description: 'Missing or rejected credentials on a protected route (SimpleJWT), with `WWW-Authenticate: Bearer realm="api"`.'
})

export const MessageErrorSchema = Type.Object(
  { error: Type.String() },
  {
    $id: 'MessageError',
    description: 'An error with a message (logout).',
    additionalProperties: false,
    examples: [{ error: 'Refresh token required' }]
  }
)

export const ThrottledSchema = Type.Object(
  { detail: Type.String({ pattern: '^Request was throttled\\. Expected available in \\d+ seconds?\\.$' }) },
  {
    $id: 'Throttled',
    description: 'Too many requests; retry after the number of seconds in the Retry-After header.',
    additionalProperties: false,
    examples: [{ detail: 'Request was throttled. Expected available in 60 seconds.' }]
  }
)

export const commonSchemas = [
  DetailErrorSchema,
  FieldErrorsSchema,
  TokenErrorSchema,
  NotAuthenticatedSchema,
  AccessTokenInvalidSchema,
  AuthErrorSchema,
  MessageErrorSchema,
  ThrottledSchema
]
