// Building blocks shared by every area: error bodies. Each has an $id so the OpenAPI document
// names it under components/schemas.
import Type from 'typebox'

export const DetailErrorSchema = Type.Object(
  { detail: Type.String() },
  { $id: 'DetailError', description: 'An error with a human-readable detail.', additionalProperties: true }
)

export const FieldErrorsSchema = Type.Record(Type.String(), Type.Array(Type.String()), {
  $id: 'FieldErrors',
  description: 'Field-keyed lists of messages (DRF); `non_field_errors` for the body as a whole.',
  examples: [{ username: ['This field is required.'], password: ['This password is too short. It must contain at least 8 characters.'] }]
})

export const TokenErrorSchema = Type.Object(
  {
    detail: Type.String({ examples: ['Token is invalid or expired'] }),
    code: Type.Literal('token_not_valid')
  },
  { $id: 'TokenError', description: 'The token was rejected (SimpleJWT).' }
)

export const AuthErrorSchema = Type.Object(
  {
    detail: Type.String(),
    code: Type.Optional(Type.Literal('token_not_valid')),
    messages: Type.Optional(
      Type.Array(
        Type.Object({ token_class: Type.String(), token_type: Type.String(), message: Type.String() })
      )
    )
  },
  { $id: 'AuthError', description: 'Missing or rejected credentials on a protected route.' }
)

export const MessageErrorSchema = Type.Object(
  { error: Type.String() },
  { $id: 'MessageError', description: 'An error with a message (logout).' }
)

export const ThrottledSchema = Type.Object(
  { detail: Type.String({ examples: ['Request was throttled. Expected available in 60 seconds.'] }) },
  { $id: 'Throttled', description: 'Too many requests; see the Retry-After header.' }
)

export const commonSchemas = [DetailErrorSchema, FieldErrorsSchema, TokenErrorSchema, AuthErrorSchema, MessageErrorSchema, ThrottledSchema]
