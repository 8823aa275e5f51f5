// Sessions and refresh-token rotation: on Redis when the app has a client (shared by every
// instance), else in this process, which is only correct for a single instance.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import fp from 'fastify-plugin'
import { MemoryTokenStore, type MemorySnapshot } from './memory-store.js'
import { RedisTokenStore } from './redis-store.js'
import type { TokenStore, TokenStoreOptions } from './types.js'

export type { IssuedRefresh, NewSession, RefreshStatus, Rotation, RotateResult, TokenStore, TokenStoreOptions } from './types.js'
export { packUserId, RedisTokenStore, sessionKey, userKey } from './redis-store.js'
export { MemoryTokenStore, type MemoryTokenStoreOptions } from './memory-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    tokenStore: TokenStore
  }
}

export default fp(
  async (fastify) => {
    const { config, redis } = fastify
    const options: TokenStoreOptions = {
      accessTtl: config.accessTokenTtl,
      refreshTtl: config.refreshTokenTtl,
      sessionMaxAge: config.sessionMaxAge,
      reuseInterval: config.refreshReuseInterval
    }
    let store: TokenStore
    if (redis) {
      store = new RedisTokenStore(redis, options)
    } else {
      const memory = new MemoryTokenStore(options)
      // Kept in the data folder across restarts, like the embedded database and the dev secret,
      // so a restart does not log everybody out.
      const file = join(config.dataDir, 'token-store.json')
      try {
        memory.restore(JSON.parse(await readFile(file, 'utf8')) as MemorySnapshot)
      } catch {}
      fastify.addHook('onClose', async () => {
        await mkdir(config.dataDir, { recursive: true })
        await writeFile(`${file}.tmp`, JSON.stringify(memory.snapshot()), { mode: 0o600 })
        await rename(`${file}.tmp`, file)
      })
      store = memory
      fastify.log.warn('token store: in-process (REDIS_URL is unset); sessions are not shared, run a single instance only')
    }
    fastify.decorate('tokenStore', store)
    fastify.addHook('onClose', async () => {
      await store.close()
    })
  },
  { name: 'token-store', dependencies: ['config', 'redis'] }
)
