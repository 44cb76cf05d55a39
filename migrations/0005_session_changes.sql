-- Every write that can end or change a session announces itself on the channel
-- keyturn_session_changes, whoever makes it (a Keyturn instance, the CLI, an operator's SQL):
-- 'u:<user id>' for a session or account change, 't:<tenant id>' for a tenant's slug or name.
-- Instances that cache sessions LISTEN and drop what the change touched; NOTIFY is delivered on
-- commit only, so a rolled-back change announces nothing.
CREATE OR REPLACE FUNCTION keyturn_session_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  row_data record;
BEGIN
  IF TG_OP = 'DELETE' THEN row_data := OLD; ELSE row_data := NEW; END IF;
  IF TG_TABLE_NAME = 'tenants' THEN
    PERFORM pg_notify('keyturn_session_changes', 't:' || row_data.id::text);
  ELSIF TG_TABLE_NAME = 'users' THEN
    PERFORM pg_notify('keyturn_session_changes', 'u:' || row_data.id::text);
  ELSE
    PERFORM pg_notify('keyturn_session_changes', 'u:' || row_data.user_id::text);
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER sessions_changed AFTER UPDATE ON sessions FOR EACH ROW
  WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION keyturn_session_change();
--> statement-breakpoint
CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION keyturn_session_change();
--> statement-breakpoint
-- Only what a session check reads or refuses on; last_login_at and password changes stay quiet
-- (a password change revokes the sessions itself, which announces them).
CREATE TRIGGER users_changed AFTER UPDATE ON users FOR EACH ROW
  WHEN ((OLD.email, OLD.name, OLD.role, OLD.tenant_id, OLD.disabled_at, OLD.locked_at)
    IS DISTINCT FROM (NEW.email, NEW.name, NEW.role, NEW.tenant_id, NEW.disabled_at, NEW.locked_at))
  EXECUTE FUNCTION keyturn_session_change();
--> statement-breakpoint
CREATE TRIGGER users_deleted AFTER DELETE ON users FOR EACH ROW EXECUTE FUNCTION keyturn_session_change();
--> statement-breakpoint
CREATE TRIGGER tenants_changed AFTER UPDATE ON tenants FOR EACH ROW
  WHEN ((OLD.slug, OLD.name) IS DISTINCT FROM (NEW.slug, NEW.name))
  EXECUTE FUNCTION keyturn_session_change();
--> statement-breakpoint
CREATE TRIGGER tenants_deleted AFTER DELETE ON tenants FOR EACH ROW EXECUTE FUNCTION keyturn_session_change();
