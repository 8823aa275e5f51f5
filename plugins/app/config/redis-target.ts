// Which Redis the service uses: REDIS_URL (a single Redis), REDIS_CLUSTER_NODES (a Cluster) or
// REDIS_SENTINELS with REDIS_SENTINEL_NAME (a master found through Sentinel); at most one of them.
import type { RedisNode, RedisTarget } from '../../external/redis.js'
import { ConfigError } from './config-error.js'
import type { Env } from './env.js'

/**
 * REDIS_CLUSTER_NODES / REDIS_SENTINELS: `host:port` or `redis[s]://[user:password@]host:port`
 * entries separated by commas. Credentials and TLS apply to every server (one deployment), so
 * entries that disagree are refused. Values are never echoed: they may hold a password.
 */
function parseRedisNodes (name: string, value: string) {
  const nodes: RedisNode[] = []
  let auth: { username: string | null; password: string | null; tls: boolean } | null = null
  for (const entry of value.split(',').map((e) => e.trim()).filter(Boolean)) {
    const withScheme = /^[a-z]+:\/\//i.test(entry) ? entry : `redis://${entry}`
    const url = URL.canParse(withScheme) ? new URL(withScheme) : null
    if (!url || !/^rediss?:$/.test(url.protocol) || !url.hostname || (url.pathname !== '' && url.pathname !== '/')) {
      throw new ConfigError(`${name}: each entry must be host:port or redis[s]://[user:password@]host:port`)
    }
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
    nodes.push({ host, port: url.port ? Number(url.port) : name === 'REDIS_SENTINELS' ? 26379 : 6379 })
    const these = {
      username: url.username ? decodeURIComponent(url.username) : null,
      password: url.password ? decodeURIComponent(url.password) : null,
      tls: url.protocol === 'rediss:'
    }
    if (auth && (auth.username !== these.username || auth.password !== these.password || auth.tls !== these.tls)) {
      throw new ConfigError(`${name}: every entry must have the same credentials and scheme`)
    }
    auth = these
  }
  if (!auth) throw new ConfigError(`${name}: no server given`)
  return { nodes, ...auth }
}

/** The Redis target the settings name, or null when none is set. */
export function redisTarget (env: Env): RedisTarget | null {
  const given = (['REDIS_URL', 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'] as const).filter((k) => env[k] !== undefined)
  if (given.length > 1) throw new ConfigError(`${given.join(', ')}: set only one of them (a single Redis, a Cluster or a Sentinel)`)
  if (env.REDIS_SENTINEL_NAME !== undefined && env.REDIS_SENTINELS === undefined) {
    throw new ConfigError('REDIS_SENTINEL_NAME: needs REDIS_SENTINELS')
  }
  if (env.REDIS_URL) return { kind: 'single', url: env.REDIS_URL }
  if (env.REDIS_CLUSTER_NODES) {
    const { nodes, ...auth } = parseRedisNodes('REDIS_CLUSTER_NODES', env.REDIS_CLUSTER_NODES)
    return { kind: 'cluster', nodes, ...auth }
  }
  if (env.REDIS_SENTINELS) {
    if (!env.REDIS_SENTINEL_NAME) throw new ConfigError('REDIS_SENTINEL_NAME: required with REDIS_SENTINELS (the master\'s name, e.g. mymaster)')
    const { nodes, ...auth } = parseRedisNodes('REDIS_SENTINELS', env.REDIS_SENTINELS)
    return { kind: 'sentinel', sentinels: nodes, name: env.REDIS_SENTINEL_NAME, ...auth }
  }
  return null
}
