// Is this Redis fit to hold sessions? It is a database here, not a cache: read with INFO (which
// managed Redis allows where CONFIG is disabled). An evicting maxmemory-policy is refused: an
// evicted session silently logs a user out, an evicted user index makes logout-all miss sessions.
// A Redis that keeps nothing on disk is allowed with a warning: a restart logs everyone out.
// On a Cluster every master is asked.
import type { Redis } from 'ioredis'
import { masters, type RedisClient } from '../../external/redis.js'

export interface RedisVerdict {
  /** Why the token store must not run on this Redis; null when it may. */
  refusal: string | null
  /** What an operator should know (no persistence); null when nothing. */
  warning: string | null
}

const field = (info: string, name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim()

/** Every master is judged (a Cluster's too): one evicting shard is enough to lose sessions. */
export async function checkRedis (redis: RedisClient): Promise<RedisVerdict> {
  const verdicts = await Promise.all(masters(redis).map((node) => checkServer(node)))
  const refusal = verdicts.map((v) => v.refusal).find((v) => v !== null) ?? null
  const warnings = [...new Set(verdicts.flatMap((v) => (v.warning ? [v.warning] : [])))]
  return { refusal, warning: warnings.length > 0 ? warnings.join(' ') : null }
}

const configValue = (redis: Redis, name: string) =>
  redis.config('GET', name).then(
    (reply) => String((reply as string[])[1] ?? ''),
    () => null
  )

async function checkServer (redis: Redis): Promise<RedisVerdict> {
  const info = await redis.info()
  const policy = field(info, 'maxmemory_policy') ?? 'noeviction'
  const refusal =
    policy === 'noeviction'
      ? null
      : `Redis maxmemory-policy is "${policy}": it may evict sessions (silent logouts) and user indexes (logout-all would miss sessions). ` +
        'The token store needs maxmemory-policy noeviction (set it in redis.conf or your provider\'s settings), or TOKEN_STORE=database.'
  const warnings: string[] = []
  if (field(info, 'aof_enabled') !== '1') {
    // RDB snapshots are only visible through CONFIG, which managed Redis may refuse.
    const save = await configValue(redis, 'save')
    if (save === '' || save === null) {
      warnings.push(
        `Redis keeps ${save === '' ? 'nothing on disk (no AOF, no RDB snapshots)' : 'no AOF, and its RDB snapshots could not be read (CONFIG is disabled)'}: ` +
          'a Redis restart would log every user out. Use appendonly yes (appendfsync everysec).'
      )
    }
  }
  return { refusal, warning: warnings.length > 0 ? warnings.join(' ') : null }
}
