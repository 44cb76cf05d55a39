-- The forgot-password queue holds open requests only: the worker deletes a request when it closes
-- it (earlier builds marked it processed and kept it for good, with the address someone typed and
-- their IP). The worker's claim reads the open requests, oldest first, through an index of them
-- alone: with the table full of processed rows and statistics behind, its plan walked the primary
-- key past every processed row (100,000 rows read per claim, 60 ms, where it takes 0.5 ms).
-- The rows earlier builds kept, and those instances of the previous build still mark processed
-- during a rolling upgrade, are deleted by the worker in batches of 1,000 (sweepResolvedRequests)
-- through the second index: a DELETE of them all here could outlast the statement timeout and
-- would hold the table meanwhile. Each index below reads the table once (1.4 s for 5 million kept
-- rows, measured); an operator with a far larger table can build them beforehand with CREATE INDEX
-- CONCURRENTLY under these names, and IF NOT EXISTS skips them here. The old index goes last: its
-- DROP locks the table until the migration commits.
CREATE INDEX IF NOT EXISTS "reset_requests_open" ON "reset_requests" USING btree ("id") WHERE "processed_at" IS NULL;
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "reset_requests_resolved" ON "reset_requests" USING btree ("id") WHERE "processed_at" IS NOT NULL;
--> statement-breakpoint
DROP INDEX IF EXISTS "reset_requests_pending";
