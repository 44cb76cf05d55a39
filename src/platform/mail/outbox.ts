// Mail leaves through this table: a request only inserts a row (inside its own transaction),
// a worker sends it later, so no request waits on SMTP and a crash loses nothing.
import { and, desc, eq, sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../clock.ts';
import type { Secrets } from '../crypto.ts';
import { rowsOf, type Db } from '../db.ts';
import { outbox } from '../schema.ts';
import { InvalidMailError, MailSendError, type MailTransport } from './transport.ts';

export interface MailContent { subject: string; text: string; html: string; }
export interface QueuedMail extends MailContent {
  kind: string;
  to: string;
  tenantId?: string | null;
  userId?: string | null;
  /** The tenant's own From header; null or absent = MAIL_FROM. */
  from?: string | null;
}

export interface OutboxOptions {
  /** A claimed message whose sender has not reported back within this time is claimed again. */
  leaseMs?: number;
  /** Longest wait between two attempts. */
  maxBackoffMs?: number;
  /** A message still unsent this long after it was queued is given up (status `failed`). */
  retryForMs?: number;
  batch?: number;
  /** Checked between two sends: on shutdown the send in flight finishes, the rest of the batch is released. */
  stopping?: () => boolean;
  /** Where a message that will not go out is reported, at error level. */
  log?: Pick<FastifyBaseLogger, 'error'>;
}

const DEFAULTS = { leaseMs: 60_000, maxBackoffMs: 15 * 60_000, retryForMs: 24 * 3_600_000, batch: 10 };

/** Exponential backoff: 5 s, 10 s, 20 s … capped (15 minutes by default, OUTBOX_MAX_BACKOFF). */
export const retryDelayMs = (attempts: number, capMs = DEFAULTS.maxBackoffMs) =>
  Math.min(5_000 * 2 ** Math.max(0, attempts - 1), capMs);

export async function enqueueMail(tx: Db, secrets: Secrets, clock: Clock, mail: QueuedMail): Promise<string> {
  const now = clock.now();
  const [row] = await tx
    .insert(outbox)
    .values({
      tenantId: mail.tenantId ?? null,
      userId: mail.userId ?? null,
      kind: mail.kind,
      toAddress: mail.to,
      fromAddress: mail.from ?? null,
      subject: mail.subject,
      sealedBody: secrets.seal(JSON.stringify({ text: mail.text, html: mail.html })),
      nextAttemptAt: now,
      createdAt: now,
    })
    .returning({ id: outbox.id });
  return row!.id;
}


/**
 * The Message-ID of an outbox row: the same on every attempt, so that in the one case where a
 * message can go out twice (the sender dies after the SMTP server accepted it but before the row
 * says `sent`; the lease then expires and another instance sends it again) the copies are
 * recognisably one message.
 */
export function messageIdFor(rowId: string, from: string): string {
  const domain = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from)?.[1] ?? 'keyturn.local';
  return `<${rowId}@${domain}>`;
}

interface ClaimedRow {
  id: string; tenant_id: string | null; kind: string; to_address: string; from_address: string | null; subject: string;
  sealed_body: string | null; attempts: number; created_at: Date | string;
}

/**
 * Retrying cannot help: the mailer refused the message, or the server refused it for good (5xx).
 * Not a refused login (EAUTH): the operator fixes the credentials and the queue goes out.
 */
const isPermanent = (err: unknown) =>
  err instanceof InvalidMailError || (err instanceof MailSendError && !err.transient && err.code !== 'EAUTH');

/**
 * Claims due rows (or rows whose sender died: lease expired) with FOR UPDATE SKIP LOCKED, so
 * several instances never send the same message twice, then sends each and records the outcome.
 */
export async function sendDueMail(
  db: Db, secrets: Secrets, clock: Clock, transport: MailTransport, from: string, options: OutboxOptions = {},
): Promise<number> {
  const opts = { ...DEFAULTS, ...options };
  const now = clock.now();
  const claimed = rowsOf<ClaimedRow>(
    await db.execute(sql`
      update outbox set status = 'sending', attempts = attempts + 1,
             lease_until = ${new Date(now.getTime() + opts.leaseMs)}
      where id in (
        select id from outbox
        where (status = 'queued' and next_attempt_at <= ${now})
           or (status = 'sending' and lease_until < ${now})
        order by next_attempt_at
        limit ${opts.batch}
        for update skip locked)
      returning id, tenant_id, kind, to_address, from_address, subject, sealed_body, attempts, created_at`),
  );
  for (const [i, row] of claimed.entries()) {
    if (opts.stopping?.()) {
      // Shutting down: hand the unsent rest back at once rather than after the lease.
      const rest = claimed.slice(i).map((r) => r.id);
      await db.execute(sql`
        update outbox set status = 'queued', attempts = attempts - 1, lease_until = null
        where status = 'sending' and id in (${sql.join(rest.map((id) => sql`${id}::uuid`), sql`, `)})`);
      return i;
    }
    try {
      if (!row.sealed_body) throw new Error('message body missing');
      const body = JSON.parse(secrets.open(row.sealed_body)) as { text: string; html: string };
      const sender = row.from_address ?? from; // the tenant's sender, else MAIL_FROM
      const result = await transport.send({ from: sender, to: row.to_address, subject: row.subject, messageId: messageIdFor(row.id, sender), ...body });
      await db
        .update(outbox)
        .set({ status: 'sent', sentAt: clock.now(), smtpResponse: result.response, sealedBody: null, leaseUntil: null })
        .where(eq(outbox.id, row.id));
    } catch (err) {
      const at = clock.now().getTime();
      const permanent = isPermanent(err);
      const failed = permanent || at - new Date(row.created_at).getTime() >= opts.retryForMs;
      const reason = String((err as Error).message ?? err).slice(0, 500);
      await db
        .update(outbox)
        .set({
          status: failed ? 'failed' : 'queued',
          lastError: reason,
          nextAttemptAt: new Date(at + retryDelayMs(row.attempts, opts.maxBackoffMs)),
          leaseUntil: null,
          ...(failed ? { sealedBody: null } : {}),
        })
        .where(eq(outbox.id, row.id));
      if (failed) {
        // The reason is already free of credentials and body (smtp.ts); a server's reply may name the recipient.
        opts.log?.error({
          mail: { id: row.id, kind: row.kind, tenantId: row.tenant_id, attempts: row.attempts },
          reason: reason.split(row.to_address).join('[recipient]'),
          cause: permanent ? 'refused' : 'retry_window_ended',
        }, 'mail not delivered: given up');
      }
    }
  }
  return claimed.length;
}

export interface DeliveryFilter { tenantId?: string; userId?: string; status?: 'queued' | 'sending' | 'sent' | 'failed'; limit?: number; }

/** Messages, newest first: one user's (admin console), or across tenants (operator). */
export async function listDeliveries(db: Db, filter: DeliveryFilter) {
  const where = [
    filter.tenantId ? eq(outbox.tenantId, filter.tenantId) : undefined,
    filter.userId ? eq(outbox.userId, filter.userId) : undefined,
    filter.status ? eq(outbox.status, filter.status) : undefined,
  ];
  const rows = await db
    .select()
    .from(outbox)
    .where(and(...where))
    .orderBy(desc(outbox.createdAt))
    .limit(Math.min(filter.limit ?? 100, 500));
  return rows.map((r) => ({
    id: r.id,
    tenantId: r.tenantId,
    kind: r.kind,
    to: r.toAddress,
    from: r.fromAddress,
    subject: r.subject,
    status: r.status,
    attempts: r.attempts,
    lastError: r.lastError,
    smtpResponse: r.smtpResponse,
    queuedAt: r.createdAt.toISOString(),
    sentAt: r.sentAt?.toISOString() ?? null,
    nextAttemptAt: r.status === 'queued' ? r.nextAttemptAt.toISOString() : null,
  }));
}

export const deliveriesOf = (db: Db, filter: { userId: string; tenantId: string }) => listDeliveries(db, filter);
