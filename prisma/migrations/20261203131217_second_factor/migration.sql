-- AlterTable
ALTER TABLE "sessions" ADD COLUMN     "amr" VARCHAR(64) NOT NULL DEFAULT 'pwd';

-- CreateTable
CREATE TABLE "mfa_totp" (
    "user_id" UUID NOT NULL,
    "secret" VARCHAR(255) NOT NULL,
    "confirmed" BOOLEAN NOT NULL DEFAULT false,
    "last_step" BIGINT,
    "created" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "confirmed_at" TIMESTAMPTZ(3),

    CONSTRAINT "mfa_totp_pkey" PRIMARY KEY ("user_id")
);

-- CreateTable
CREATE TABLE "mfa_recovery_codes" (
    "id" BIGSERIAL NOT NULL,
    "user_id" UUID NOT NULL,
    "code_hash" VARCHAR(64) NOT NULL,
    "used_at" TIMESTAMPTZ(3),

    CONSTRAINT "mfa_recovery_codes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "passkeys" (
    "id" VARCHAR(32) NOT NULL,
    "user_id" UUID NOT NULL,
    "credential_id" VARCHAR(1024) NOT NULL,
    "public_key" BYTEA NOT NULL,
    "counter" BIGINT NOT NULL DEFAULT 0,
    "transports" VARCHAR(255) NOT NULL DEFAULT '',
    "device_type" VARCHAR(32) NOT NULL DEFAULT '',
    "backed_up" BOOLEAN NOT NULL DEFAULT false,
    "name" VARCHAR(64) NOT NULL DEFAULT '',
    "created" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used" TIMESTAMPTZ(3),

    CONSTRAINT "passkeys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "auth_tickets" (
    "key" VARCHAR(128) NOT NULL,
    "value" TEXT NOT NULL,
    "tries" INTEGER NOT NULL DEFAULT 0,
    "max_tries" INTEGER NOT NULL,
    "expires_at" BIGINT NOT NULL,

    CONSTRAINT "auth_tickets_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE UNIQUE INDEX "mfa_recovery_codes_user_hash_key" ON "mfa_recovery_codes"("user_id", "code_hash");

-- CreateIndex
CREATE UNIQUE INDEX "passkeys_credential_id_key" ON "passkeys"("credential_id");

-- CreateIndex
CREATE INDEX "passkeys_user_id_idx" ON "passkeys"("user_id");

-- CreateIndex
CREATE INDEX "auth_tickets_expires_at_idx" ON "auth_tickets"("expires_at");

-- AddForeignKey
ALTER TABLE "mfa_totp" ADD CONSTRAINT "mfa_totp_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "mfa_recovery_codes" ADD CONSTRAINT "mfa_recovery_codes_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "passkeys" ADD CONSTRAINT "passkeys_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- How the session's user signed in (amr, RFC 8176): auth_session_create gains p_amr. Sessions
-- started before this migration signed in with a password.
DROP FUNCTION auth_session_create(text, text, text, int, int, int, bigint, int, text, text);
CREATE FUNCTION auth_session_create(p_sid text, p_user text, p_jti text, p_refresh_ttl int, p_max_age int,
                                    p_access_ttl int, p_now bigint, p_sweep int, p_ip text, p_user_agent text, p_amr text)
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
  INSERT INTO sessions (sid, user_id, jti, exp, ends, expires_at, created_at, ip, user_agent, amr)
    VALUES (p_sid, p_user, p_jti, v_exp, v_end, greatest(v_exp * 1000, v_now + p_access_ttl::bigint * 1000),
            v_now, left(p_ip, 64), left(p_user_agent, 256), left(p_amr, 64));
  RETURN QUERY SELECT v_iat, v_exp;
END $$;
