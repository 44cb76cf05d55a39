import { and, desc, eq, lt, type SQL } from 'drizzle-orm';
import type { Db } from '../../platform/db.ts';
import { auditEvents } from '../../platform/schema.ts';

export interface Actor { type: 'user' | 'admin' | 'operator' | 'system'; id?: string | null; ip?: string | null; }

export interface AuditEvent {
  type: string;
  tenantId?: string | null;
  userId?: string | null;
  data?: Record<string, unknown>;
}

/** Written inside the transaction of the change it records: no change without its audit line. */
export async function audit(tx: Db, actor: Actor, at: Date, event: AuditEvent): Promise<void> {
  await tx.insert(auditEvents).values({
    tenantId: event.tenantId ?? null,
    userId: event.userId ?? null,
    actorType: actor.type,
    actorId: actor.id ?? null,
    ip: actor.ip ?? null,
    type: event.type,
    data: event.data ?? {},
    createdAt: at,
  });
}

export async function listAudit(
  db: Db,
  filter: { tenantId?: string; userId?: string; type?: string; before?: number; limit?: number },
) {
  const where: SQL[] = [];
  if (filter.tenantId) where.push(eq(auditEvents.tenantId, filter.tenantId));
  if (filter.userId) where.push(eq(auditEvents.userId, filter.userId));
  if (filter.type) where.push(eq(auditEvents.type, filter.type));
  if (filter.before) where.push(lt(auditEvents.id, filter.before));
  const rows = await db
    .select()
    .from(auditEvents)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(auditEvents.id))
    .limit(Math.min(filter.limit ?? 100, 1000));
  return rows.map((r) => ({
    id: r.id,
    type: r.type,
    tenantId: r.tenantId,
    userId: r.userId,
    actor: { type: r.actorType, id: r.actorId },
    ip: r.ip,
    data: r.data,
    at: r.createdAt.toISOString(),
  }));
}
