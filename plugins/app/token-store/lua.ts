// Lua scripts of the Redis token store. Each touches ONE key (its own hash tag), so every
// script runs on a single Redis Cluster slot and each rotation is a single atomic EVALSHA.
//
// Session hash s:{sid}, short field names to keep a session under a few hundred bytes:
//   u user id · j current refresh jti · e its exp (s) · m session hard end (s)
//   p previous jti · r ms time p was rotated, so also the current token's iat (only grace needs it)
//   x "1" once revoked: then the only field, a tombstone that keeps the key's TTL, so a revoked
//   token answers "blacklisted" (not "unknown") until it would have expired.
// Numbers travel as decimal strings; Lua 5.1 formats numbers with %.14g, exact for ms timestamps.

/** KEYS[1] s:{sid}. ARGV: userId, jti, newJti, nowMs, refreshTtl (s), reuseInterval (ms), accessTtl (ms). */
export const ROTATE = `
local k = KEYS[1]
local h = redis.call('HMGET', k, 'u', 'j', 'e', 'p', 'r', 'm', 'x')
if h[7] then return {'revoked'} end
if not h[1] or h[1] ~= ARGV[1] then return {'unknown'} end
local now = tonumber(ARGV[4])
local nowS = math.floor(now / 1000)
local e = tonumber(h[3])
local m = tonumber(h[6])
local accessEnd = now + tonumber(ARGV[7])
if nowS >= m then return {'unknown'} end
if ARGV[2] == h[2] then
  if nowS >= e then return {'unknown'} end
  local exp = math.min(nowS + tonumber(ARGV[5]), m)
  redis.call('HSET', k, 'j', ARGV[3], 'e', exp, 'p', ARGV[2], 'r', now)
  redis.call('PEXPIREAT', k, math.max(exp * 1000, accessEnd))
  return {'rotated', ARGV[3], nowS, exp}
end
local r = tonumber(h[5])
if h[4] and ARGV[2] == h[4] and now - r < tonumber(ARGV[6]) and nowS < e then
  -- The grace answer signs a new access token: the session must outlive it.
  redis.call('PEXPIREAT', k, math.max(e * 1000, accessEnd))
  return {'grace', h[2], math.floor(r / 1000), e}
end
-- Any other token of this family: stolen or replayed. Revoke the whole session.
-- x first: a hash emptied by HDEL would vanish, and HSET would then recreate it without a TTL.
redis.call('HSET', k, 'x', '1')
redis.call('HDEL', k, 'u', 'j', 'e', 'p', 'r', 'm')
return {'reused'}
`

/** KEYS[1] s:{sid}. Turns a live session into a tombstone (keeping its TTL); returns its user id, or nil. */
export const REVOKE = `
local u = redis.call('HGET', KEYS[1], 'u')
if not u then return false end
redis.call('HSET', KEYS[1], 'x', '1')
redis.call('HDEL', KEYS[1], 'u', 'j', 'e', 'p', 'r', 'm')
return u
`

/**
 * KEYS[1] u:{userId}, a ZSET sid -> ms time its session record expires. ARGV: sid, score (ms), nowMs,
 * onlyRaise ("1": update an existing member to a later score only), slack (ms).
 * Trims expired members and keeps the key alive until its latest member expires (+ slack for clock
 * skew between instances), never shortening it: PTTL is compared here because EXPIRE GT needs Redis 7.
 */
export const INDEX = `
local k = KEYS[1]
local score = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if ARGV[4] == '1' then
  local cur = redis.call('ZSCORE', k, ARGV[1])
  if not cur or tonumber(cur) >= score then return 0 end
end
redis.call('ZADD', k, score, ARGV[1])
redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
local want = score - now + tonumber(ARGV[5])
if want > 0 and redis.call('PTTL', k) < want then redis.call('PEXPIRE', k, want) end
return 1
`
