// Which errors of the Redis client are outages (a 503) and which are not (a bug stays a 500).
import { ReplyError } from 'ioredis'
import t from 'tap'
import { redisOutage } from '../../../plugins/external/redis-outage.js'

const coded = (message: string, code: string) => Object.assign(new Error(message), { code })

t.test('Redis: down, timed out and refusing writes are outages; anything else is not', async (t) => {
  t.equal(redisOutage(new Error('Command timed out')), 'timeout')
  t.equal(redisOutage(new Error("Stream isn't writeable and enableOfflineQueue options is false")), 'down')
  t.equal(redisOutage(new Error('Connection is closed.')), 'down')
  // A pipeline in flight when its connection closed (a Sentinel's CLIENT KILL in a failover), as ioredis names it.
  t.equal(redisOutage(Object.assign(new Error('Command aborted due to connection close'), { name: 'AbortError' })), 'down')
  t.equal(redisOutage(coded('connect ECONNREFUSED 127.0.0.1:6379', 'ECONNREFUSED')), 'down')
  t.equal(redisOutage(new ReplyError("OOM command not allowed when used memory > 'maxmemory'.")), 'oom')
  t.equal(redisOutage(new ReplyError("READONLY You can't write against a read only replica.")), 'readonly')
  t.equal(redisOutage(new ReplyError('LOADING Redis is loading the dataset in memory')), 'loading')
  t.equal(redisOutage(new ReplyError('ERR Error running script (call to f_x): bad argument')), null, 'a script bug')
  t.equal(redisOutage(new TypeError('x is not a function')), null)
})
