// Is this Redis fit to hold sessions? It is a database here, not a cache: read with INFO (which
// managed Redis allows where CONFIG is disabled). An evicting maxmemory-policy is refused: an
// evicted session silently logs a user out, an evicted user index makes logout-all miss sessions.
// A Redis that keeps nothing on disk is allowed with a warning: a restart logs everyone out.
import type { Redis } from 'ioredis'

export interface RedisVerdict {
  /** Why the token store must not run on this Redis; null when it may. */
  refusal: string | null
  /** What an operator should know (no persistence); null when nothing. */
  warning: string | null
}

const field = (info: string, name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim()

export async function checkRedis(redis: Redis): Promise<RedisVerdict> {
  const info = await redis.info()
  const policy = field(info, 'maxmemory_policy') ?? 'noeviction'
  const refusal =
    policy === 'noeviction'
      ? null
      : `Redis maxmemory-policy is "${policy}": it may evict sessions (silent logouts) and user indexes (logout-all would miss sessions). ` +
        'The token store needs maxmemory-policy noeviction (set it in redis.conf or your provider\'s settings), or TOKEN_STORE=database.'
  let warning: string | null = null
  if (field(info, 'aof_enabled') !== '1') {
    // RDB snapshots are only visible through CONFIG, which managed Redis may refuse.
    const save = await redis.config('GET', 'save').then(
      (reply) => String((reply as string[])[1] ?? ''),
      () => null
    )
    if (save === '' || save === null) {
      warning =
        `Redis keeps ${save === '' ? 'nothing on disk (no AOF, no RDB snapshots)' : 'no AOF, and its RDB snapshots could not be read (CONFIG is disabled)'}: ` +
        'a Redis restart would log every user out. Use appendonly yes (appendfsync everysec).'
    }
  }
  return { refusal, warning }
}
