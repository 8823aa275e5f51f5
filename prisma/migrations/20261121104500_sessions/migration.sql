-- CreateTable
CREATE TABLE "sessions" (
    "sid" VARCHAR(64) NOT NULL,
    "user_id" VARCHAR(64) NOT NULL,
    "jti" VARCHAR(64),
    "exp" BIGINT NOT NULL,
    "ends" BIGINT NOT NULL,
    "prev_jti" VARCHAR(64),
    "rotated_at" BIGINT,
    "revoked" BOOLEAN NOT NULL DEFAULT false,
    "expires_at" BIGINT NOT NULL,

    CONSTRAINT "sessions_pkey" PRIMARY KEY ("sid")
);

-- CreateIndex
CREATE INDEX "sessions_user_id_idx" ON "sessions"("user_id");

-- CreateIndex
CREATE INDEX "sessions_expires_at_idx" ON "sessions"("expires_at");

-- The database token store's operations (plugins/app/token-store/database-store.ts): creation and
-- rotation are one statement each (one round trip), deciding exactly as the Redis Lua scripts do.
-- Times are the database's clock in ms, unless the caller passes one (p_now, tests).
CREATE FUNCTION auth_now_ms() RETURNS bigint LANGUAGE sql VOLATILE AS $$
  SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint
$$;

-- A new session whose first refresh token is p_jti: returns its iat and exp (s). Expired rows go as
-- part of this normal work, p_sweep at a time (rows other transactions hold are skipped).
CREATE FUNCTION auth_session_create(p_sid text, p_user text, p_jti text, p_refresh_ttl int, p_max_age int,
                                    p_access_ttl int, p_now bigint, p_sweep int)
RETURNS TABLE (iat bigint, exp bigint) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_clock bigint := auth_now_ms();
  v_now bigint := COALESCE(p_now, v_clock);
  v_iat bigint := floor(v_now / 1000);
  v_end bigint := v_iat + p_max_age;
  v_exp bigint := least(v_iat + p_refresh_ttl, v_end);
BEGIN
  DELETE FROM sessions WHERE sid IN (
    SELECT s.sid FROM sessions s WHERE s.expires_at <= v_clock LIMIT p_sweep FOR UPDATE SKIP LOCKED);
  INSERT INTO sessions (sid, user_id, jti, exp, ends, expires_at)
    VALUES (p_sid, p_user, p_jti, v_exp, v_end, greatest(v_exp * 1000, v_now + p_access_ttl::bigint * 1000));
  RETURN QUERY SELECT v_iat, v_exp;
END $$;

-- Rotation of refresh token p_jti of session p_sid, under the row's lock: 'rotated' (p_new_jti is
-- now current), 'grace' (p_jti was rotated less than p_reuse_ms ago: the current token, as it is),
-- 'reused' (any other token of the family: the session is revoked now), 'revoked' (already), or
-- 'unknown' (no such live session of p_user, or past its end, or an expired current token).
CREATE FUNCTION auth_session_rotate(p_sid text, p_user text, p_jti text, p_new_jti text, p_refresh_ttl int,
                                    p_reuse_ms bigint, p_access_ttl int, p_now bigint)
RETURNS TABLE (status text, jti text, iat bigint, exp bigint) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_clock bigint := auth_now_ms();
  v_now bigint := COALESCE(p_now, v_clock);
  v_now_s bigint := floor(v_now / 1000);
  v_access_end bigint := v_now + p_access_ttl::bigint * 1000;
  s sessions%ROWTYPE;
  v_exp bigint;
BEGIN
  SELECT * INTO s FROM sessions WHERE sessions.sid = p_sid FOR UPDATE;
  -- A row past its expiry is gone, as an expired Redis key is, whether or not it was deleted yet.
  IF NOT FOUND OR s.expires_at <= v_clock THEN
    RETURN QUERY SELECT 'unknown'::text, NULL::text, NULL::bigint, NULL::bigint; RETURN;
  END IF;
  IF s.revoked THEN
    RETURN QUERY SELECT 'revoked'::text, NULL::text, NULL::bigint, NULL::bigint; RETURN;
  END IF;
  IF s.user_id <> p_user OR v_now_s >= s.ends THEN
    RETURN QUERY SELECT 'unknown'::text, NULL::text, NULL::bigint, NULL::bigint; RETURN;
  END IF;
  IF p_jti = s.jti THEN
    IF v_now_s >= s.exp THEN
      RETURN QUERY SELECT 'unknown'::text, NULL::text, NULL::bigint, NULL::bigint; RETURN;
    END IF;
    v_exp := least(v_now_s + p_refresh_ttl, s.ends);
    UPDATE sessions SET jti = p_new_jti, exp = v_exp, prev_jti = p_jti, rotated_at = v_now,
                        expires_at = greatest(v_exp * 1000, v_access_end)
      WHERE sessions.sid = p_sid;
    RETURN QUERY SELECT 'rotated'::text, p_new_jti, v_now_s, v_exp; RETURN;
  END IF;
  IF s.prev_jti IS NOT NULL AND p_jti = s.prev_jti AND v_now - s.rotated_at < p_reuse_ms AND v_now_s < s.exp THEN
    -- The grace answer signs a new access token: the session must outlive it.
    UPDATE sessions SET expires_at = greatest(s.exp * 1000, v_access_end) WHERE sessions.sid = p_sid;
    RETURN QUERY SELECT 'grace'::text, s.jti::text, floor(s.rotated_at / 1000)::bigint, s.exp; RETURN;
  END IF;
  -- Any other token of this family: stolen or replayed. Revoke the whole session (a tombstone).
  UPDATE sessions SET revoked = true, jti = NULL, prev_jti = NULL, rotated_at = NULL WHERE sessions.sid = p_sid;
  RETURN QUERY SELECT 'reused'::text, NULL::text, NULL::bigint, NULL::bigint;
END $$;
