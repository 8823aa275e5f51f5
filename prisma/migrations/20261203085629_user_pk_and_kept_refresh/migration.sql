-- The last refresh that kept its token (ROTATE_REFRESH_TOKENS=false), for the sessions list.
ALTER TABLE "sessions" ADD COLUMN     "last_used" BIGINT;

-- The user's integer number (API_PROFILE=envelope's `pk`): what `SERIAL NOT NULL` makes, done by
-- hand so that the users already there are numbered in the order they joined (ADD COLUMN SERIAL
-- would number them in the table's physical order); new users take the sequence's next value,
-- and a sequence never gives a number twice.
CREATE SEQUENCE "users_pk_seq" AS integer;
ALTER TABLE "users" ADD COLUMN "pk" INTEGER;
UPDATE "users" SET "pk" = n.rn FROM (SELECT id, row_number() OVER (ORDER BY date_joined, id) AS rn FROM "users") n WHERE "users".id = n.id;
SELECT setval('"users_pk_seq"', COALESCE((SELECT max("pk") FROM "users"), 0) + 1, false);
ALTER TABLE "users" ALTER COLUMN "pk" SET DEFAULT nextval('"users_pk_seq"'), ALTER COLUMN "pk" SET NOT NULL;
ALTER SEQUENCE "users_pk_seq" OWNED BY "users"."pk";

-- CreateIndex
CREATE UNIQUE INDEX "users_pk_key" ON "users"("pk");

-- ROTATE_REFRESH_TOKENS=false: a refresh may keep its token (p_keep). auth_session_rotate gains
-- that parameter: a current token then stays current ('kept', its jti and exp), and only the
-- session's last use (last_used) and the row's life (for the new access token) move. A token that
-- is not current is answered as before (grace or reuse), so instances that rotate and instances
-- that keep can share sessions.
DROP FUNCTION auth_session_rotate(text, text, text, text, int, bigint, int, bigint);
CREATE FUNCTION auth_session_rotate(p_sid text, p_user text, p_jti text, p_new_jti text, p_refresh_ttl int,
                                    p_reuse_ms bigint, p_access_ttl int, p_now bigint, p_keep boolean)
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
    IF p_keep THEN
      UPDATE sessions SET last_used = v_now, expires_at = greatest(s.exp * 1000, v_access_end) WHERE sessions.sid = p_sid;
      RETURN QUERY SELECT 'kept'::text, s.jti::text, 0::bigint, s.exp; RETURN;
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
  UPDATE sessions SET revoked = true, jti = NULL, prev_jti = NULL, rotated_at = NULL, last_used = NULL WHERE sessions.sid = p_sid;
  RETURN QUERY SELECT 'reused'::text, NULL::text, NULL::bigint, NULL::bigint;
END $$;
