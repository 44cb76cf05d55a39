-- Keyturn as the OpenID Provider of the platform's apps (src/features/oidc).
-- What oidc-provider stores (grants, codes, refresh tokens, its interactions): one row per model
-- instance, looked up by id, by grant (revocation), by uid (interactions) and swept by expiry.
CREATE TABLE "oidc_payloads" (
  "kind" text NOT NULL,
  "id" text NOT NULL,
  "payload" jsonb NOT NULL,
  "grant_id" text,
  "uid" text,
  "expires_at" timestamp with time zone,
  "consumed_at" timestamp with time zone,
  PRIMARY KEY ("kind", "id")
);
--> statement-breakpoint
CREATE INDEX "oidc_payloads_grant" ON "oidc_payloads" ("grant_id") WHERE "grant_id" IS NOT NULL;
--> statement-breakpoint
CREATE INDEX "oidc_payloads_uid" ON "oidc_payloads" ("uid") WHERE "uid" IS NOT NULL;
--> statement-breakpoint
CREATE INDEX "oidc_payloads_expires" ON "oidc_payloads" ("expires_at");
--> statement-breakpoint
-- The apps the operator registered. A confidential client's secret is sealed under SECRET_KEY
-- (oidc-provider compares it as presented, so a one-way hash cannot be kept).
CREATE TABLE "oidc_clients" (
  "client_id" text PRIMARY KEY,
  "name" text NOT NULL,
  "type" text NOT NULL,
  "sealed_secret" text,
  "redirect_uris" jsonb NOT NULL,
  "post_logout_redirect_uris" jsonb NOT NULL DEFAULT '[]'::jsonb,
  "backchannel_logout_uri" text,
  "tenants" jsonb,
  "created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
-- Signing keys: the public part as a JWK, the private part sealed under SECRET_KEY. The newest
-- key signs; every key not retired is published and verifies.
CREATE TABLE "oidc_keys" (
  "kid" text PRIMARY KEY,
  "alg" text NOT NULL,
  "public_jwk" jsonb NOT NULL,
  "sealed_private" text NOT NULL,
  "created_at" timestamp with time zone NOT NULL,
  "retired_at" timestamp with time zone
);
--> statement-breakpoint
-- An app session: a row of `sessions` for one app's grant, issued under a browser session (its
-- parent). Ending the parent ends it; ending it revokes exactly that grant.
ALTER TABLE "sessions" ADD COLUMN "client_id" text;
--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "parent_id_hash" text;
--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "grant_id" text;
--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "oidc_sid" text;
--> statement-breakpoint
CREATE INDEX "sessions_parent" ON "sessions" ("parent_id_hash") WHERE "parent_id_hash" IS NOT NULL;
--> statement-breakpoint
CREATE UNIQUE INDEX "sessions_grant" ON "sessions" ("grant_id") WHERE "grant_id" IS NOT NULL;
