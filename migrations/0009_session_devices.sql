-- The device list (CONTRACT §8). A session gets a public id (the id_hash is never shown to anyone)
-- and the time it was last used, written at most once per five minutes per session.
ALTER TABLE "sessions" ADD COLUMN "id" uuid DEFAULT gen_random_uuid() NOT NULL;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "last_seen_at" timestamp with time zone;--> statement-breakpoint
CREATE UNIQUE INDEX "sessions_id" ON "sessions" USING btree ("id");--> statement-breakpoint
-- Writing last_seen_at changes nothing a session shows: it must not announce itself (the
-- announcement empties the session cache of every instance). Every other column still counts,
-- including columns added later.
DROP TRIGGER IF EXISTS sessions_changed ON sessions;--> statement-breakpoint
CREATE TRIGGER sessions_changed AFTER UPDATE ON sessions FOR EACH ROW
  WHEN ((to_jsonb(OLD) - 'last_seen_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_seen_at'))
  EXECUTE FUNCTION keyturn_session_change();
