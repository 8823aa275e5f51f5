// Sessions and refresh-token rotation: on Redis when the app has a client (shared by every
// instance), else in this process, which is only correct for a single instance.
import fp from 'fastify-plugin'
import { MemoryTokenStore, RedisTokenStore, type TokenStore, type TokenStoreOptions } from '../../src/token-store/index.js'

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
      store = new MemoryTokenStore(options)
      fastify.log.warn('token store: in-process (REDIS_URL is unset); sessions are not shared, run a single instance only')
    }
    fastify.decorate('tokenStore', store)
    fastify.addHook('onClose', async () => {
      await store.close()
    })
  },
  { name: 'token-store', dependencies: ['config', 'redis'] }
)
