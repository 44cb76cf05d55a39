// Everything Keyturn sends leaves through this table: mail, and HTTP POSTs (back-channel logout
// tokens, webhooks). A request only inserts a row (inside its own transaction); a worker sends it
// later, so no request waits on SMTP or on someone else's server, and a crash loses nothing. One
// claim, one lease, one backoff for every channel; each channel only says how to send one row.
import { and, desc, eq, sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../clock.ts';
import type { Secrets } from '../crypto.ts';
import { rowsOf, type Db } from '../db.ts';
import { outbox } from '../schema.ts';
import { InvalidMailError, MailSendError, type MailTransport } from '../mail/transport.ts';
import { displayUrl, HttpDeliveryError, PermanentDeliveryError, postOnce, type AttemptOutcome, type DeliveryHooks, type DeliveryKinds } from './http.ts';
import { parseDestinationUrl, type AllowList, type Resolver } from './ssrf.ts';

export type Channel = 'mail' | 'http';

export interface MailContent { subject: string; text: string; html: string; }
export interface QueuedMail extends MailContent {
  kind: string;
  to: string;
  tenantId?: string | null;
  userId?: string | null;
  /** The tenant's own From header; null or absent = MAIL_FROM. */
  from?: string | null;
}

export interface QueuedHttp {
  /** Names the preparer that builds the body at send time (DeliveryKinds.register). */
  kind: string;
  /** http: or https:, no credentials. The query string is never shown in the deliveries list. */
  url: string;
  tenantId?: string | null;
  userId?: string | null;
  /** Sealed in the row, handed to the preparer at every attempt, dropped once delivered or given up. */
  payload: unknown;
}

export interface OutboxOptions {
  /** A claimed message whose sender has not reported back within this time is claimed again. */
  leaseMs?: number;
  /** Longest wait between two attempts. */
  maxBackoffMs?: number;
  /** A message still unsent this long after it was queued is given up (status `failed`), unless its channel sets its own. */
  retryForMs?: number;
  batch?: number;
  /**
   * HTTP deliveries of a claim sent at once: each mostly waits on its receiver and the database,
   * so one at a time left the worker idle (about 100 a second).
   */
  httpInFlight?: number;
  /** Messages of a claim sent at once (the transport's connections by default); one recipient's in order. */
  mailInFlight?: number;
  /** Checked between two sends: on shutdown the send in flight finishes, the rest of the batch is released. */
  stopping?: () => boolean;
  /** Where a message that will not go out is reported, at error level. */
  log?: Pick<FastifyBaseLogger, 'error'>;
}

export interface MailChannel {
  transport: MailTransport;
  /** MAIL_FROM, for rows without a tenant sender. */
  from: string;
  /** OUTBOX_RETRY_FOR (OutboxOptions.retryForMs when absent). */
  retryForMs?: number;
}

export interface HttpChannel {
  kinds: DeliveryKinds;
  /** WEBHOOK_ALLOWED_HOSTS. */
  allowed: AllowList;
  /** WEBHOOK_RETRY_WINDOW. */
  retryForMs?: number;
  /** 10 s unless a test says otherwise. */
  timeoutMs?: number;
  resolve?: Resolver;
}

/** The channels this worker sends; rows of a channel it lacks are left for one that has it. */
export interface Channels { mail?: MailChannel; http?: HttpChannel; }

const DEFAULTS = { leaseMs: 60_000, maxBackoffMs: 15 * 60_000, retryForMs: 24 * 3_600_000, batch: 50, httpInFlight: 16 };

/** Exponential backoff: 5 s, 10 s, 20 s … capped (15 minutes by default, OUTBOX_MAX_BACKOFF). */
export const retryDelayMs = (attempts: number, capMs = DEFAULTS.maxBackoffMs) =>
  Math.min(5_000 * 2 ** Math.max(0, attempts - 1), capMs);

export async function enqueueMail(tx: Db, secrets: Secrets, clock: Clock, mail: QueuedMail): Promise<string> {
  const [row] = await tx.insert(outbox).values(mailRow(secrets, clock.now(), mail)).returning({ id: outbox.id });
  return row!.id;
}

/** Many messages in one INSERT (an import's welcome emails); the caller keeps a batch to hundreds. */
export async function enqueueMails(tx: Db, secrets: Secrets, clock: Clock, mails: QueuedMail[]): Promise<void> {
  if (mails.length === 0) return;
  const now = clock.now();
  await tx.insert(outbox).values(mails.map((m) => mailRow(secrets, now, m)));
}

function mailRow(secrets: Secrets, now: Date, mail: QueuedMail): typeof outbox.$inferInsert {
  return {
    channel: 'mail',
    tenantId: mail.tenantId ?? null,
    userId: mail.userId ?? null,
    kind: mail.kind,
    toAddress: mail.to,
    fromAddress: mail.from ?? null,
    subject: mail.subject,
    sealedBody: secrets.seal(JSON.stringify({ text: mail.text, html: mail.html })),
    nextAttemptAt: now,
    createdAt: now,
  };
}

/**
 * Queues one HTTP POST in the caller's transaction. The URL is checked for syntax here (features
 * check it with checkDestinationUrl when it is registered); its address is checked at every attempt.
 */
export async function enqueueHttp(tx: Db, secrets: Secrets, clock: Clock, delivery: QueuedHttp): Promise<string> {
  const url = parseDestinationUrl(delivery.url);
  if (!url.ok) throw new Error(`enqueueHttp(${delivery.kind}): ${url.reason}`);
  const now = clock.now();
  const [row] = await tx
    .insert(outbox)
    .values({
      channel: 'http',
      tenantId: delivery.tenantId ?? null,
      userId: delivery.userId ?? null,
      kind: delivery.kind,
      toAddress: url.url.toString(),
      subject: '',
      sealedBody: secrets.seal(JSON.stringify(delivery.payload ?? null)),
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
  id: string; tenant_id: string | null; channel: Channel; kind: string; to_address: string; from_address: string | null;
  subject: string; sealed_body: string | null; attempts: number; created_at: Date | string;
}

/** What a successful send leaves in the row. */
type Sent = { smtpResponse: string } | { responseStatus: number; responseBody: string };

/**
 * Retrying cannot help: the mailer refused the message, or the server refused it for good (5xx).
 * Not a refused login (EAUTH): the operator fixes the credentials and the queue goes out.
 */
const isPermanent = (err: unknown) =>
  err instanceof InvalidMailError || err instanceof PermanentDeliveryError
  || (err instanceof HttpDeliveryError && err.permanent)
  || (err instanceof MailSendError && !err.transient && err.code !== 'EAUTH');

async function sendMail(row: ClaimedRow, body: unknown, mail: MailChannel): Promise<Sent> {
  const { text, html } = body as { text: string; html: string };
  const sender = row.from_address ?? mail.from; // the tenant's sender, else MAIL_FROM
  const result = await mail.transport.send({ from: sender, to: row.to_address, subject: row.subject, messageId: messageIdFor(row.id, sender), text, html });
  return { smtpResponse: result.response };
}

async function sendHttp(row: ClaimedRow, payload: unknown, http: HttpChannel): Promise<Sent> {
  const prepare = http.kinds.preparerOf(row.kind);
  if (!prepare) throw new PermanentDeliveryError(`no preparer is registered for the delivery kind "${row.kind}"`);
  const url = parseDestinationUrl(row.to_address);
  if (!url.ok) throw new PermanentDeliveryError(url.reason);
  let prepared;
  try {
    prepared = await prepare(payload, { id: row.id, attempts: row.attempts });
  } catch (e) {
    if (e instanceof PermanentDeliveryError) throw e;
    throw new Error(`preparing the request failed: ${(e as Error).message ?? e}`);
  }
  const answer = await postOnce(url.url, prepared, { allowed: http.allowed, timeoutMs: http.timeoutMs, resolve: http.resolve });
  return { responseStatus: answer.status, responseBody: answer.body };
}

/**
 * Claims due rows of the channels given (or rows whose sender died: lease expired) with FOR UPDATE
 * SKIP LOCKED, so several instances never send the same message twice, then sends each through its
 * channel and records the outcome: sent, queued again after a backoff, or failed for good.
 */
export async function sendDue(db: Db, secrets: Secrets, clock: Clock, channels: Channels, options: OutboxOptions = {}): Promise<number> {
  const opts = { ...DEFAULTS, ...options };
  const names = (Object.keys(channels) as Channel[]).filter((c) => channels[c]);
  if (names.length === 0) return 0;
  const claimedAt = clock.now();
  const claimed = rowsOf<ClaimedRow>(
    await db.execute(sql`
      update outbox set status = 'sending', attempts = attempts + 1,
             lease_until = ${new Date(claimedAt.getTime() + opts.leaseMs)}
      where id in (
        select id from outbox
        where ((status = 'queued' and next_attempt_at <= ${claimedAt})
           or (status = 'sending' and lease_until < ${claimedAt}))
          and channel in (${sql.join(names.map((c) => sql`${c}`), sql`, `)})
        order by next_attempt_at
        limit ${opts.batch}
        for update skip locked)
      returning id, tenant_id, channel, kind, to_address, from_address, subject, sealed_body, attempts, created_at`),
  );
  // Lanes take the claim's rows in order. HTTP rows go to any lane; a recipient's mail always to
  // the same lane, so within a claim a newer reset email does not overtake the one it supersedes.
  const released: string[] = [];
  const lane = (rows: ClaimedRow[]) => async () => {
    for (let row = rows.shift(); row; row = rows.shift()) {
      // Shutting down: the rest goes back at once rather than after the lease.
      if (opts.stopping?.()) { released.push(row.id, ...rows.splice(0).map((r) => r.id)); return; }
      await deliver(row);
    }
  };
  // RETURNING gives no order: older messages first, so a lane sends a recipient's in the order queued.
  const mail = claimed.filter((r) => r.channel !== 'http').sort((a, b) => new Date(a.created_at).getTime() - new Date(b.created_at).getTime());
  const http = claimed.filter((r) => r.channel === 'http');
  const mailInFlight = opts.mailInFlight ?? channels.mail?.transport.connections ?? 1;
  const mailLanes = Array.from({ length: Math.min(mailInFlight, mail.length) }, (): ClaimedRow[] => []);
  for (const row of mail) mailLanes[laneOf(row.to_address, mailLanes.length)]!.push(row);
  // Every lane ends before the claim does (a shutdown closes the transport and the database after).
  const lanes = await Promise.allSettled([...mailLanes.map((rows) => lane(rows)()), ...Array.from({ length: Math.min(opts.httpInFlight, http.length) }, () => lane(http)())]);
  const broken = lanes.find((l) => l.status === 'rejected');
  if (broken) throw broken.reason;
  if (released.length > 0) {
    await db.execute(sql`
      update outbox set status = 'queued', attempts = attempts - 1, lease_until = null
      where status = 'sending' and id in (${sql.join(released.map((id) => sql`${id}::uuid`), sql`, `)})`);
  }
  return claimed.length - released.length;

  async function deliver(row: ClaimedRow): Promise<void> {
    // Slow receivers ahead of this row ate into its lease: take a fresh one, unless another
    // instance has claimed the row meanwhile (its attempts moved on), in which case it is theirs.
    if (clock.now().getTime() - claimedAt.getTime() > opts.leaseMs / 2) {
      const renewed = await db
        .update(outbox)
        .set({ leaseUntil: new Date(clock.now().getTime() + opts.leaseMs) })
        .where(and(eq(outbox.id, row.id), eq(outbox.status, 'sending'), eq(outbox.attempts, row.attempts)))
        .returning({ id: outbox.id });
      if (renewed.length === 0) return;
    }
    const channel = row.channel === 'http' ? channels.http! : channels.mail!;
    const hooks = row.channel === 'http' ? channels.http!.kinds.hooksOf(row.kind) : undefined;
    try {
      // An HTTP row without a sealed payload belongs to a kind that keeps its payload in its own
      // table (webhooks: written by SQL in the transaction of the change); its preparer gets null.
      if (!row.sealed_body && row.channel !== 'http') throw new Error('message body missing');
      const opened = row.sealed_body ? JSON.parse(secrets.open(row.sealed_body)) as unknown : null;
      const sent = row.channel === 'http' ? await sendHttp(row, opened, channels.http!) : await sendMail(row, opened, channels.mail!);
      await db
        .update(outbox)
        .set({ status: 'sent', sentAt: clock.now(), ...sent, sealedBody: null, leaseUntil: null })
        .where(eq(outbox.id, row.id));
      if (hooks?.onAttempt && 'responseStatus' in sent) {
        await report(hooks, row.id, { attempt: row.attempts, at: clock.now(), outcome: 'delivered', status: sent.responseStatus, body: sent.responseBody, error: null }, opts.log);
      }
    } catch (err) {
      const at = clock.now().getTime();
      const permanent = isPermanent(err);
      const retryForMs = channel.retryForMs ?? opts.retryForMs;
      const failed = permanent || at - new Date(row.created_at).getTime() >= retryForMs;
      const reason = String((err as Error).message ?? err).slice(0, 500);
      const answer: { responseStatus?: number | null; responseBody?: string | null } =
        err instanceof HttpDeliveryError ? { responseStatus: err.status, responseBody: err.responseBody } : {};
      await db
        .update(outbox)
        .set({
          status: failed ? 'failed' : 'queued',
          lastError: reason,
          ...answer,
          nextAttemptAt: new Date(at + retryDelayMs(row.attempts, opts.maxBackoffMs)),
          leaseUntil: null,
          ...(failed ? { sealedBody: null } : {}),
        })
        .where(eq(outbox.id, row.id));
      if (hooks?.onAttempt) {
        await report(hooks, row.id, {
          attempt: row.attempts, at: new Date(at), outcome: failed ? 'failed' : 'retry',
          ...(failed ? { cause: permanent ? 'refused' : 'retry_window_ended' } : {}),
          status: answer.responseStatus ?? null, body: answer.responseBody ?? null, error: reason,
        }, opts.log);
      }
      if (failed) {
        const cause = permanent ? 'refused' : 'retry_window_ended';
        if (row.channel === 'http') {
          opts.log?.error({
            delivery: { id: row.id, channel: 'http', kind: row.kind, tenantId: row.tenant_id, attempts: row.attempts, to: displayUrl(row.to_address) },
            reason, cause,
          }, 'http delivery not delivered: given up');
        } else {
          // The reason is already free of credentials and body (smtp.ts); a server's reply may name the recipient.
          opts.log?.error({
            mail: { id: row.id, kind: row.kind, tenantId: row.tenant_id, attempts: row.attempts },
            reason: reason.split(row.to_address).join('[recipient]'),
            cause,
          }, 'mail not delivered: given up');
        }
      }
    }
  }
}

/** Hands an attempt's outcome to its kind's hook; the row is already recorded, so a failing hook is only logged. */
async function report(hooks: DeliveryHooks, rowId: string, outcome: AttemptOutcome, log?: Pick<FastifyBaseLogger, 'error'>): Promise<void> {
  try {
    await hooks.onAttempt!(rowId, outcome);
  } catch (e) {
    log?.error({ err: e, delivery: { id: rowId } }, 'http delivery: the attempt hook failed');
  }
}

export interface DeliveryFilter { tenantId?: string; userId?: string; status?: 'queued' | 'sending' | 'sent' | 'failed'; limit?: number; }

/** Deliveries (mail and HTTP), newest first: one user's (admin console), or across tenants (operator). Never their content. */
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
    channel: r.channel as Channel,
    kind: r.kind,
    // HTTP: the URL without its query string (it may carry a token).
    to: r.channel === 'http' ? displayUrl(r.toAddress) : r.toAddress,
    from: r.fromAddress,
    subject: r.subject,
    status: r.status,
    attempts: r.attempts,
    lastError: r.lastError,
    smtpResponse: r.smtpResponse,
    responseStatus: r.responseStatus,
    responseBody: r.responseBody,
    queuedAt: r.createdAt.toISOString(),
    sentAt: r.sentAt?.toISOString() ?? null,
    nextAttemptAt: r.status === 'queued' ? r.nextAttemptAt.toISOString() : null,
  }));
}

export const deliveriesOf = (db: Db, filter: { userId: string; tenantId: string }) => listDeliveries(db, filter);

/** A recipient's lane: the same address (in any case) always lands in the same one. */
function laneOf(address: string, lanes: number): number {
  let h = 0;
  for (const ch of address.toLowerCase()) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h % lanes;
}
