-- The forgot-password queue holds open requests only: the worker deletes a request when it closes
-- it (earlier builds marked it processed and kept it for good, with the address someone typed and
-- their IP). The worker's claim reads the open requests, oldest first, through an index of them
-- alone: with the table full of processed rows and statistics behind, its plan walked the primary
-- key past every processed row (100,000 rows read per claim, 60 ms, where it takes 0.5 ms).
-- Instances of the previous build, during a rolling upgrade, still mark requests processed: the
-- index leaves those few out, and `delete from reset_requests where processed_at is not null`
-- removes them once the upgrade is done.
DELETE FROM "reset_requests" WHERE "processed_at" IS NOT NULL;
--> statement-breakpoint
DROP INDEX IF EXISTS "reset_requests_pending";
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "reset_requests_open" ON "reset_requests" USING btree ("id") WHERE "processed_at" IS NULL;
