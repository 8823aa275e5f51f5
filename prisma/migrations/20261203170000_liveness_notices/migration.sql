-- Liveness notices (issue 22): every revocation of a session tells the instances that cache
-- "this session is alive" (plugins/app/token-store/liveness). The trigger runs in the revoking
-- transaction, so no revocation commits without its notice: NOTIFY is queued before the commit is
-- recorded (a failure to queue it rolls the revocation back) and listeners are signalled before
-- the COMMIT is answered. It covers every path that revokes: a logout or a session revoked from
-- the list, logout-all (password change, reset, deletion, second factor turned off...), and reuse
-- detection inside auth_session_rotate. A live row deleted (not by the expiry sweep, whose rows
-- are dead already) is told as well. Payload: '<sid> <user id>' on channel auth_session_revoked.

CREATE FUNCTION auth_session_revoked_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('auth_session_revoked', OLD.sid || ' ' || OLD.user_id);
  ELSE
    PERFORM pg_notify('auth_session_revoked', NEW.sid || ' ' || NEW.user_id);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER sessions_revoked_notify AFTER UPDATE OF revoked ON sessions
  FOR EACH ROW WHEN (NEW.revoked AND NOT OLD.revoked) EXECUTE FUNCTION auth_session_revoked_notify();

CREATE TRIGGER sessions_deleted_notify AFTER DELETE ON sessions
  FOR EACH ROW WHEN (NOT OLD.revoked AND OLD.expires_at > auth_now_ms()) EXECUTE FUNCTION auth_session_revoked_notify();
