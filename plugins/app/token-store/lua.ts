// Lua scripts of the Redis token store. Each touches ONE key (its own hash tag), so every
// script runs on a single Redis Cluster slot and each rotation is a single atomic EVALSHA.
//
// Session hash s:{sid}, short field names to keep a session under a few hundred bytes:
//   u user id · j current refresh jti · e its exp (s) · m session hard end (s)
//   p previous jti · r ms time p was rotated, so also the current token's iat (only grace needs it)
//   x "1" once revoked: then the only field, a tombstone that keeps the key's TTL, so a revoked
//   token answers "blacklisted" (not "unknown") until it would have expired.
// Numbers travel as decimal strings; Lua 5.1 formats numbers with %.14g, exact for ms timestamps.
// Time is Redis's own (TIME), so instances whose clocks differ still agree on the grace interval
// and on expiry; a caller may pass a time instead (tests). Scripts that call TIME before writing
// replicate their effects, which Redis does by default since 5.0.

/** The time in ms: the argument when one is given, else the server's clock. */
const NOW = `
local function nowMs(arg)
  if arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`

/**
 * KEYS[1] s:{sid}. ARGV: userId, jti, nowMs or '', refreshTtl (s), sessionMaxAge (s), accessTtl (ms).
 * A new session whose first refresh token is jti; returns {iat, exp}.
 */
export const CREATE = `${NOW}
local now = nowMs(ARGV[3])
local iat = math.floor(now / 1000)
local m = iat + tonumber(ARGV[5])
local e = math.min(iat + tonumber(ARGV[4]), m)
redis.call('HSET', KEYS[1], 'u', ARGV[1], 'j', ARGV[2], 'e', e, 'm', m)
redis.call('PEXPIREAT', KEYS[1], math.max(e * 1000, now + tonumber(ARGV[6])))
return {iat, e}
`

/** KEYS[1] s:{sid}. ARGV: userId, jti, newJti, nowMs or '', refreshTtl (s), reuseInterval (ms), accessTtl (ms). */
export const ROTATE = `${NOW}
local k = KEYS[1]
local h = redis.call('HMGET', k, 'u', 'j', 'e', 'p', 'r', 'm', 'x')
if h[7] then return {'revoked'} end
if not h[1] or h[1] ~= ARGV[1] then return {'unknown'} end
local now = nowMs(ARGV[4])
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
 * KEYS[1] u:{userId}, a ZSET sid -> ms time its session record expires at the latest. ARGV: sid,
 * nowMs or '', onlyRaise ("1": update an existing member to a later score only), slack (ms),
 * refreshTtl (s), accessTtl (ms). The score is the latest a record touched now can expire:
 * max(refresh token's end, last access token's end). Trims expired members and keeps the key alive
 * until its latest member expires (+ slack), never shortening it: PTTL is compared here because
 * EXPIRE GT needs Redis 7.
 */
export const INDEX = `${NOW}
local k = KEYS[1]
local now = nowMs(ARGV[2])
local score = math.max((math.floor(now / 1000) + tonumber(ARGV[5])) * 1000, now + tonumber(ARGV[6]))
if ARGV[3] == '1' then
  local cur = redis.call('ZSCORE', k, ARGV[1])
  if not cur or tonumber(cur) >= score then return 0 end
end
redis.call('ZADD', k, score, ARGV[1])
redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
local want = score - now + tonumber(ARGV[4])
if want > 0 and redis.call('PTTL', k) < want then redis.call('PEXPIRE', k, want) end
return 1
`
