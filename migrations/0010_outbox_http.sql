-- One outbox for every outgoing delivery (CONTRACT §9, §10): mail, and HTTP POSTs (back-channel
-- logout tokens, webhooks). An HTTP row keeps its URL in to_address and its sealed payload in
-- sealed_body (dropped once delivered or given up); its body is built at send time. Of the last
-- answer it keeps the status code and the first 1 KiB of the body (the receiver's words, not ours).
ALTER TABLE "outbox" ADD COLUMN "channel" text DEFAULT 'mail' NOT NULL;--> statement-breakpoint
ALTER TABLE "outbox" ADD COLUMN "response_status" integer;--> statement-breakpoint
ALTER TABLE "outbox" ADD COLUMN "response_body" text;
