// Identifiers shared by the plugins: user ids are UUIDs (the users table's key, made by the
// database); token and session ids are random.
import { randomBytes } from 'node:crypto'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export const isUuid = (value: string): boolean => UUID.test(value)

/** 128 random bits, base64url (22 characters): jti and sid values. */
export const newId = (): string => randomBytes(16).toString('base64url')
