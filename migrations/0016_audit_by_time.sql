-- The audit log filtered by date (console and GET /api/v1/admin/audit `from`/`to`): a tenant's
-- events in a time range, read through an index instead of a scan of the tenant's whole history.
CREATE INDEX IF NOT EXISTS "audit_tenant_time" ON "audit_events" USING btree ("tenant_id","created_at");
