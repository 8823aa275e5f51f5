export type { IssuedRefresh, NewSession, RefreshStatus, Rotation, RotateResult, TokenStore, TokenStoreOptions } from './types.js'
export { packUserId, RedisTokenStore, sessionKey, userKey } from './redis-store.js'
export { MemoryTokenStore, type MemoryTokenStoreOptions } from './memory-store.js'
