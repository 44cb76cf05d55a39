-- SCIM 2.0 provisioning (CONTRACT §11, src/features/scim). The identity provider's own id for a
-- user (`externalId`), unique within the tenant; and the bearer tokens an identity provider calls
-- with, one tenant each, stored only as keyed hashes.
ALTER TABLE "users" ADD COLUMN "external_id" text;
--> statement-breakpoint
-- SCIM's meta.lastModified: when what SCIM shows of a user last changed. A trigger, so that every
-- writer keeps it (not only the SCIM door), and only for those columns (a sign-in is no change).
ALTER TABLE "users" ADD COLUMN "updated_at" timestamp with time zone;
--> statement-breakpoint
CREATE FUNCTION "users_touch"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW."updated_at" := now();
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER "users_touch" BEFORE UPDATE ON "users" FOR EACH ROW
  WHEN (OLD."email" IS DISTINCT FROM NEW."email" OR OLD."name" IS DISTINCT FROM NEW."name"
    OR OLD."disabled_at" IS DISTINCT FROM NEW."disabled_at" OR OLD."external_id" IS DISTINCT FROM NEW."external_id"
    OR OLD."role" IS DISTINCT FROM NEW."role")
  EXECUTE FUNCTION "users_touch"();
--> statement-breakpoint
CREATE UNIQUE INDEX "users_tenant_external_id" ON "users" ("tenant_id", "external_id") WHERE "external_id" IS NOT NULL;
--> statement-breakpoint
-- SCIM lists users in a stable order (created_at, id), paged by startIndex.
CREATE INDEX "users_tenant_created" ON "users" ("tenant_id", "created_at", "id");
--> statement-breakpoint
CREATE TABLE "scim_tokens" (
  "id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
  "tenant_id" uuid NOT NULL REFERENCES "tenants"("id") ON DELETE CASCADE,
  "label" text DEFAULT '' NOT NULL,
  "token_hash" text NOT NULL,
  "created_at" timestamp with time zone NOT NULL,
  "last_used_at" timestamp with time zone
);
--> statement-breakpoint
CREATE UNIQUE INDEX "scim_tokens_hash" ON "scim_tokens" ("token_hash");
--> statement-breakpoint
CREATE INDEX "scim_tokens_tenant" ON "scim_tokens" ("tenant_id", "created_at");
