// DRF's CharField trims surrounding white space before it validates a field; passwords are kept
// as typed (their serializers turn trimming off). One hook factory for every route that trims.
import type { FastifyRequest } from 'fastify'

export const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * A preValidation hook that trims these string fields of a JSON object body, then lets `also`
 * rewrite the body further (still before validation).
 */
export const trimmed =
  (fields: readonly string[], also?: (body: Record<string, unknown>) => void) =>
    async (request: FastifyRequest): Promise<void> => {
      const body: unknown = request.body
      if (!isObject(body)) return
      for (const f of fields) {
        const value = body[f]
        if (typeof value === 'string') body[f] = value.trim()
      }
      also?.(body)
    }
