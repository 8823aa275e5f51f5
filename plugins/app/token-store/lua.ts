// Lua scripts of the Redis token store. Every key of one user shares a hash slot: the hash tag is
// the user, not the session. So a creation or a rotation with its index update, a revocation and
// logout-all are each ONE atomic script on one slot, on a single Redis and on a Cluster alike.
//
// Keys (before the client's keyPrefix), U = the packed user id (redis-store.ts):
//   s:{U}:<sid>  the session hash. Every byte counts (budget: 512 per session with its index):
//     j the current refresh jti, as its 16 bytes (not 22 base64url characters) · e its exp (s)
//     c created (ms); the session's hard end is c + SESSION_MAX_AGE · i the login's IP
//     a1..a8 its user agent, in pieces of at most 64 bytes (a longer value would turn the hash
//     from a listpack into a hashtable, doubling its size) · p the previous jti (bytes)
//     r ms time p was rotated (so also the current token's iat, and the last use)
//     m how the user signed in: the amr values, space-separated ("pwd", "pwd otp mfa", "hwk mfa")
//     l ms time of the last refresh that kept its token (ROTATE_REFRESH_TOKENS=false), if later
//     u "1" while the answer that handed out j may not have reached the client (a 503: the
//     write's WAIT fell short, or its reply was lost): p then gets the grace answer past the
//     grace interval. Where writes wait for replicas, every rotation and grace answer sets it in
//     the same script (so it fails over with them) and CONFIRM_ANSWERED clears it once WAIT
//     succeeded; elsewhere MARK_UNANSWERED sets it after a call that failed.
//     x "1" once revoked: then the only field, a tombstone that keeps the key's TTL, so a revoked
//     token answers "blacklisted" (not "unknown") until it would have expired.
//     A session is live while its hash has `j`.
//   u:{U}        the user's index, a ZSET sid -> ms time the session's record expires.
//   t:<key>      a ticket (an ephemeral sign-in token, a passkey challenge): a hash of v its value,
//     n wrong tries, x the tries allowed; its TTL is its lifetime. Alone in its slot (no user's).
// Scripts that reach every session of a user (logout-all, the list) get the session key prefix
// `s:{U}:` as a key of their own (it hashes to the same slot), and append the sids to it: keys
// built inside a script would otherwise miss the client's keyPrefix.
// Numbers travel as decimal strings; Lua 5.1 formats numbers with %.14g, exact for ms timestamps.
// Time is Redis's own (TIME), so instances whose clocks differ still agree on the grace interval
// and on expiry; a caller may pass a time instead (tests). Scripts that call TIME before writing
// replicate their effects, which Redis does by default since 5.0.

const COMMON = `
local function nowMs(arg)
  if arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- The index entry of a session whose record now lasts until 'untilMs'; the index itself outlives
-- its latest member by 'slack' ms and is never shortened (EXPIRE GT needs Redis 7).
local function index(k, sid, untilMs, now, slack)
  redis.call('ZADD', k, untilMs, sid)
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
  local want = untilMs - now + slack
  if want > 0 and redis.call('PTTL', k) < want then redis.call('PEXPIRE', k, want) end
end
-- x first: a hash emptied by HDEL would vanish, and HSET would then recreate it without a TTL.
local function tombstone(k)
  redis.call('HSET', k, 'x', '1')
  redis.call('HDEL', k, 'j', 'e', 'c', 'i', 'p', 'r', 'u', 'l', 'm', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8')
end
`

/**
 * KEYS: session, index. ARGV: sid, jti, nowMs or '', refreshTtl (s), sessionMaxAge (s),
 * accessTtl (ms), index slack (ms), ip, amr, then the user agent's pieces (up to 8). A new session
 * whose first refresh token is jti; returns {iat, exp}.
 */
export const CREATE = `${COMMON}
local now = nowMs(ARGV[3])
local iat = math.floor(now / 1000)
local m = iat + tonumber(ARGV[5])
local e = math.min(iat + tonumber(ARGV[4]), m)
redis.call('HSET', KEYS[1], 'j', ARGV[2], 'e', e, 'c', now, 'i', ARGV[8], 'm', ARGV[9])
for n = 10, math.min(#ARGV, 17) do redis.call('HSET', KEYS[1], 'a' .. (n - 9), ARGV[n]) end
local untilMs = math.max(e * 1000, now + tonumber(ARGV[6]))
redis.call('PEXPIREAT', KEYS[1], untilMs)
index(KEYS[2], ARGV[1], untilMs, now, tonumber(ARGV[7]))
return {iat, e}
`

/**
 * KEYS: session, index. ARGV: sid, jti, newJti, nowMs or '', refreshTtl (s), reuseInterval (ms),
 * accessTtl (ms), index slack (ms), sessionMaxAge (s), '1' when the answer is confirmed later
 * (u set until CONFIRM_ANSWERED) or '', '1' to keep the current token (ROTATE_REFRESH_TOKENS=false:
 * 'kept', the session's last use moves, nothing is rotated) or ''. A token that is not current
 * gets the same grace answer or reuse detection either way, so instances that rotate and
 * instances that keep can share sessions.
 */
export const ROTATE = `${COMMON}
local k = KEYS[1]
local h = redis.call('HMGET', k, 'j', 'e', 'p', 'r', 'c', 'x', 'u')
if h[6] then return {'revoked'} end
if not h[1] then return {'unknown'} end
local now = nowMs(ARGV[4])
local nowS = math.floor(now / 1000)
local e = tonumber(h[2])
local m = math.floor(tonumber(h[5]) / 1000) + tonumber(ARGV[9])
local accessEnd = now + tonumber(ARGV[7])
local slack = tonumber(ARGV[8])
if nowS >= m then return {'unknown'} end
if ARGV[2] == h[1] then
  if nowS >= e then return {'unknown'} end
  if ARGV[11] == '1' then
    -- The token stays current until it expires; the record must outlive the new access token.
    redis.call('HSET', k, 'l', now)
    local untilMs = math.max(e * 1000, accessEnd)
    redis.call('PEXPIREAT', k, untilMs)
    index(KEYS[2], ARGV[1], untilMs, now, slack)
    return {'kept', h[1], 0, e}
  end
  local exp = math.min(nowS + tonumber(ARGV[5]), m)
  redis.call('HSET', k, 'j', ARGV[3], 'e', exp, 'p', ARGV[2], 'r', now)
  if ARGV[10] == '1' then redis.call('HSET', k, 'u', '1') elseif h[7] then redis.call('HDEL', k, 'u') end
  local untilMs = math.max(exp * 1000, accessEnd)
  redis.call('PEXPIREAT', k, untilMs)
  index(KEYS[2], ARGV[1], untilMs, now, slack)
  return {'rotated', ARGV[3], nowS, exp}
end
local r = tonumber(h[4])
-- The previous token again: within the grace interval, or at any time (while the current token
-- lives) when its rotation was never answered (u), the current token for the caller to re-sign.
if h[3] and ARGV[2] == h[3] and nowS < e and (h[7] or now - r < tonumber(ARGV[6])) then
  -- This answer is the one the client was owed: once it is known to be given, the grace interval
  -- alone applies again (if it fails too, the session stays or is marked again).
  if ARGV[10] == '1' then
    if not h[7] then redis.call('HSET', k, 'u', '1') end
  elseif h[7] then
    redis.call('HDEL', k, 'u')
  end
  -- The grace answer signs a new access token: the session must outlive it.
  -- (Never shorter than now: the record already ends at max(e, an earlier access token's end).)
  local untilMs = math.max(e * 1000, accessEnd)
  redis.call('PEXPIREAT', k, untilMs)
  index(KEYS[2], ARGV[1], untilMs, now, slack)
  return {'grace', h[1], math.floor(r / 1000), e}
end
-- Any other token of this family: stolen or replayed. Revoke the whole session.
tombstone(k)
redis.call('ZREM', KEYS[2], ARGV[1])
return {'reused'}
`

/**
 * KEYS: session. ARGV: the current jti an answer handed out. Its WAIT succeeded: the answer is
 * given (unless the session moved on since, whose own answer is still pending).
 */
export const CONFIRM_ANSWERED = `
if redis.call('HGET', KEYS[1], 'j') == ARGV[1] then return redis.call('HDEL', KEYS[1], 'u') end
return 0
`

/**
 * KEYS: session. ARGV: the jti a failed rotate call presented. Sent after a rotate call whose
 * answer did not reach the client (a 503): if the session moved on from that token (the
 * rotation, or a grace answer, ran after all), its retry is owed the grace answer past the
 * grace interval (u). A call that never ran finds its token still current: nothing to mark.
 */
export const MARK_UNANSWERED = `
if redis.call('HGET', KEYS[1], 'p') == ARGV[1] and redis.call('HEXISTS', KEYS[1], 'j') == 1 then
  redis.call('HSET', KEYS[1], 'u', '1')
  return 1
end
return 0
`

/** KEYS: session, index. ARGV: sid. Turns a live session into a tombstone (keeping its TTL); 1 if it was live. */
export const REVOKE = `${COMMON}
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('HEXISTS', KEYS[1], 'j') == 0 then return 0 end
tombstone(KEYS[1])
return 1
`

/** KEYS: index, session key prefix. ARGV: a sid to keep, or ''. Revokes every other session of the user; returns how many were live. */
export const REVOKE_ALL = `${COMMON}
local n = 0
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if sid ~= ARGV[1] then
    local k = KEYS[2] .. sid
    if redis.call('HEXISTS', k, 'j') == 1 then
      tombstone(k)
      n = n + 1
    end
    redis.call('ZREM', KEYS[1], sid)
  end
end
return n
`

/**
 * KEYS: index, session key prefix. ARGV: nowMs or ''. Read-only: the live sessions, flattened as
 * sid, created (ms), last use (ms: the later of the last rotation and the last refresh that
 * kept its token) or '', exp (s), ip, user agent, amr.
 */
export const LIST = `${COMMON}
local now = nowMs(ARGV[1])
local out = {}
for _, sid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')) do
  local h = redis.call('HMGET', KEYS[2] .. sid, 'j', 'c', 'r', 'e', 'i', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'l', 'm')
  if h[1] then
    local agent = ''
    for n = 6, 13 do if h[n] then agent = agent .. h[n] end end
    local used = h[3]
    if h[14] and (not used or tonumber(h[14]) > tonumber(used)) then used = h[14] end
    for _, v in ipairs({sid, h[2] or '0', used or '', h[4], h[5] or '', agent, h[15] or 'pwd'}) do out[#out + 1] = v end
  end
end
return out
`

/** KEYS: ticket. ARGV: value, ttl (s), tries allowed. Stores (or replaces) a ticket. */
export const TICKET_PUT = `
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'n', 0, 'x', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
`

/** KEYS: ticket. The value, and the ticket is gone; false when there is none. */
export const TICKET_TAKE = `
local v = redis.call('HGET', KEYS[1], 'v')
if v then redis.call('DEL', KEYS[1]) end
return v
`

/** KEYS: ticket. Counts a wrong try: the tries left, the ticket gone at 0 (0 too when there is none). */
/**
 * KEYS: the user's device history (a ZSET device -> ms of its last sign-in). ARGV: device, nowMs or
 * '', window (ms), limit. 1 when the device signed in within the window, else 0; either way it is
 * now the most recent, the ones older than the window go, and only the newest 'limit' stay.
 */
export const DEVICE_REMEMBER = `${COMMON}
local now = nowMs(ARGV[2])
local window = tonumber(ARGV[3])
local last = redis.call('ZSCORE', KEYS[1], ARGV[1])
local known = last and tonumber(last) > now - window
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
local limit = tonumber(ARGV[4])
if n > limit then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - limit - 1) end
redis.call('PEXPIRE', KEYS[1], window)
if known then return 1 end
return 0
`

export const TICKET_FAIL = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
local left = tonumber(redis.call('HGET', KEYS[1], 'x')) - n
if left <= 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
return left
`
