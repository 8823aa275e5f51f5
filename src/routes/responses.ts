// Response entries shared by routes: each status documented with its body and a description.
import Type, { type TSchema } from 'typebox'

export const describe = <T extends TSchema>(schema: T, description: string): T => ({ ...schema, description })

export const bad = (description = 'Invalid input: field-keyed lists of messages.') => describe(Type.Ref('FieldErrors'), description)
export const throttledResponse = describe(Type.Ref('Throttled'), 'Throttled: retry after the number of seconds in Retry-After.')
export const authResponses = {
  401: describe(Type.Ref('AuthError'), 'No credentials, or a bad, expired, revoked or wrong-type access token.')
}
export const bearer = [{ bearerAuth: [] }]
