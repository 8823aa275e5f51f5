-- The sessions list: when each session started (ms), and its login's client address and user agent.
-- Sessions that exist already get the time of their last rotation, else now, as their start.
ALTER TABLE "sessions" ADD COLUMN "created_at" BIGINT,
ADD COLUMN     "ip" VARCHAR(64) NOT NULL DEFAULT '',
ADD COLUMN     "user_agent" VARCHAR(256) NOT NULL DEFAULT '';
UPDATE "sessions" SET "created_at" = COALESCE("rotated_at", auth_now_ms());
ALTER TABLE "sessions" ALTER COLUMN "created_at" SET NOT NULL;

-- Creation now records them too (the same work otherwise; see 20261121104500_sessions).
DROP FUNCTION auth_session_create(text, text, text, int, int, int, bigint, int);
CREATE FUNCTION auth_session_create(p_sid text, p_user text, p_jti text, p_refresh_ttl int, p_max_age int,
                                    p_access_ttl int, p_now bigint, p_sweep int, p_ip text, p_user_agent text)
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
  INSERT INTO sessions (sid, user_id, jti, exp, ends, expires_at, created_at, ip, user_agent)
    VALUES (p_sid, p_user, p_jti, v_exp, v_end, greatest(v_exp * 1000, v_now + p_access_ttl::bigint * 1000),
            v_now, left(p_ip, 64), left(p_user_agent, 256));
  RETURN QUERY SELECT v_iat, v_exp;
END $$;
