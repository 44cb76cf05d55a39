-- The console's users search (`q`: part of an address or a name) on a floor of thousands: a
-- trigram index answers ILIKE '%q%' without reading every row of the tenant. pg_trgm is a trusted
-- extension (PostgreSQL 13+): the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS users_search_trgm ON users USING gin ((email || ' ' || name) gin_trgm_ops);
--> statement-breakpoint
-- "Last sign-in older than N days" and "never signed in" per tenant.
CREATE INDEX IF NOT EXISTS users_tenant_last_login ON users (tenant_id, last_login_at);
