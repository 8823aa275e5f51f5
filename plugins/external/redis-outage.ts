// Which errors of the Redis client (redis.ts) are outages, for the outages guard: a 503 and a
// throttled warning instead of a 500.
import { isSocketError, type OutageOf } from './outage.js'

// Redis refusing a command for what it is going through, not for what was asked.
const REDIS_REFUSALS = /^(OOM|READONLY|LOADING|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN|NOREPLICAS|MISCONF)\b/

/**
 * ioredis: a connection that is down or gone (or closed under a command), a command past its timeout, a refusal (OOM,
 * READONLY...), or a Cluster that cannot route the command now (slots moving, a master failing over).
 */
export const redisOutage: OutageOf = (err) => {
  if (!(err instanceof Error)) return null
  const m = err.message
  // The token store's writes that did not reach the replicas they must (WAIT).
  if (err.name === 'NotReplicatedError') return 'noreplicas'
  if (err.name === 'ReplyError') return REDIS_REFUSALS.exec(m)?.[1]?.toLowerCase() ?? null
  if (m === 'Command timed out') return 'timeout'
  // AbortError: a pipeline in flight when its connection closed (a failover's CLIENT KILL).
  if (err.name === 'MaxRetriesPerRequestError' || err.name === 'AbortError' || /enableOfflineQueue|Connection is closed|Stream isn't writeable/.test(m)) return 'down'
  if (/^(Too many Cluster redirections|Cluster isn't ready|Failed to refresh slots cache|None of startup nodes is available)/.test(m)) return 'cluster'
  if (/All sentinels are unreachable/.test(m)) return 'sentinel'
  if (isSocketError(err)) return 'down'
  return null
}
