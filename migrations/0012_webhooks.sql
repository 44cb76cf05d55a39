-- Webhooks (CONTRACT §10, src/features/webhooks). An endpoint belongs to one tenant (a tenant
-- admin's) or to the operator (tenant_id null: every tenant, or those listed in `tenants`, by id).
-- Its secret is sealed; after a rotation the previous one signs too until previous_secret_until.
CREATE TABLE "webhook_endpoints" (
  "id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
  "tenant_id" uuid REFERENCES "tenants"("id") ON DELETE CASCADE,
  "tenants" jsonb,
  "url" text NOT NULL,
  "events" jsonb NOT NULL,
  "description" text DEFAULT '' NOT NULL,
  "sealed_secret" text NOT NULL,
  "sealed_previous_secret" text,
  "previous_secret_until" timestamp with time zone,
  "disabled_at" timestamp with time zone,
  "disabled_reason" text,
  "created_at" timestamp with time zone NOT NULL,
  "updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
-- What the audit hook asks on every mapped change: is any enabled endpoint listening?
CREATE INDEX "webhook_endpoints_enabled" ON "webhook_endpoints" ("tenant_id") WHERE "disabled_at" IS NULL;
--> statement-breakpoint
-- One row per event, written in the transaction of the change, only when an endpoint listens.
-- `payload` is the event exactly as sent: {id, type, timestamp, tenant:{slug}, data:{userId, email, …}}.
CREATE TABLE "webhook_events" (
  "id" uuid PRIMARY KEY NOT NULL,
  "tenant_id" uuid,
  "user_id" uuid,
  "type" text NOT NULL,
  "payload" jsonb NOT NULL,
  "created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
-- One row per (event, endpoint): its id is the `webhook-id` header, the same on every attempt and
-- on a redelivery. The outbox row (channel http, kind webhook) carries the attempts.
CREATE TABLE "webhook_deliveries" (
  "id" uuid PRIMARY KEY NOT NULL,
  "endpoint_id" uuid NOT NULL REFERENCES "webhook_endpoints"("id") ON DELETE CASCADE,
  "event_id" uuid NOT NULL REFERENCES "webhook_events"("id") ON DELETE CASCADE,
  "outbox_id" uuid NOT NULL,
  "created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "webhook_deliveries_endpoint" ON "webhook_deliveries" ("endpoint_id", "created_at");
--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_deliveries_outbox" ON "webhook_deliveries" ("outbox_id");
--> statement-breakpoint
-- Every attempt (the outbox row keeps only the last answer): status, time, first 1 KiB of the answer.
CREATE TABLE "webhook_attempts" (
  "id" bigserial PRIMARY KEY NOT NULL,
  "delivery_id" uuid NOT NULL REFERENCES "webhook_deliveries"("id") ON DELETE CASCADE,
  "attempt" integer NOT NULL,
  "at" timestamp with time zone NOT NULL,
  "outcome" text NOT NULL,
  "response_status" integer,
  "response_body" text,
  "error" text
);
--> statement-breakpoint
CREATE INDEX "webhook_attempts_delivery" ON "webhook_attempts" ("delivery_id", "id");
