// User management routes with one shape for two doors: the operator API (tenant from the URL,
// operator key) and the tenant admin API (tenant from the admin's session, own tenant only).
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseDuration } from '../../config.ts';
import { invalidRequest } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { parse } from '../../platform/http.ts';
import { common, doc, err } from '../../platform/openapi.ts';
import { deliveriesOf } from '../../platform/outbox/outbox.ts';
import { ACTOR_TYPES, auditTime, exportAudit, listAudit, type Actor } from '../audit/audit.ts';
import { auditSentencesEn } from '../audit/sentence-texts.ts';
import { withSentences } from '../audit/sentences.ts';
import { createUser, detailedViews, getUser, listUsers, signOutEverywhere, updateUser, userView } from '../accounts/accounts.ts';
import { exportUsersCsv, USER_CSV_COLUMNS, usersCsvName } from '../accounts/export.ts';
import { importUsers, IMPORT_BODY_LIMIT, MAX_IMPORT_ROWS, rowsFromCsv } from '../accounts/import.ts';
import type { Tenant } from '../tenants/store.ts';
import { linkedIdentities, unlinkIdentity } from '../sso/identities.ts';
import { resetFactors } from '../mfa/factors.ts';
import { adminReset, sendWelcome, sendWelcomes } from './admin-reset.ts';
import { needs } from './permissions.ts';
import { ROLES } from '../accounts/store.ts';
import { BULK_ACTIONS, BULK_MAX, runBulk } from './bulk.ts';
import { eraseUser } from '../accounts/erase.ts';

/** The tenant a request acts in, who acts, and their role there (absent for the operator, who may do everything). */
export type TenantResolver = (request: FastifyRequest) => Promise<{ tenant: Tenant; actor: Actor; role?: string }>;

const Role = z.enum(ROLES);
const CreateUser = z.object({
  email: z.string().max(254),
  name: z.string().max(200).optional(),
  password: z.string().max(4096).optional(),
  role: Role.optional(),
  sendWelcome: z.boolean().optional(),
});
const PatchUser = z.object({
  disabled: z.boolean().optional(),
  locked: z.literal(false).optional(),
  role: Role.optional(),
  name: z.string().max(200).optional(),
  email: z.string().max(254).optional(),
});
const ResetBody = z.object({
  delivery: z.enum(['email', 'link']),
  expiresIn: z.enum(['1h', '24h', '72h', '7d']).optional(),
  reason: z.string().max(500).optional(),
});
const BulkBody = z.object({
  ids: z.array(z.string().max(64)).min(1).max(BULK_MAX),
  action: z.enum(BULK_ACTIONS),
  reason: z.string().max(500).optional(),
});
const BulkResultView = z.object({
  done: z.array(z.string()).describe('Ids the action was done for, in the order sent.'),
  failed: z.array(z.object({
    id: z.string(),
    error: z.string().describe('`not_found`, `forbidden` (a supervisor and a user who is not a member), `account_disabled`, `account_locked`, `password_off`, `invalid_request`, `rate_limited`, …'),
    message: z.string(),
  })),
});
const MfaResetBody = z.object({ reason: z.string().trim().min(1, 'say why (it goes into the audit log)').max(500) });
const ImportBody = z.object({
  users: z.array(z.object({ email: z.string().max(1000), name: z.string().max(1000).optional(), role: z.string().max(50).optional() })).max(MAX_IMPORT_ROWS).optional(),
  csv: z.string().max(IMPORT_BODY_LIMIT).optional().describe('Instead of `users`: the CSV file itself (a header row naming email, name, role; email required). Problems then carry the `line` of the row.'),
  allOrNothing: z.boolean().optional(),
  sendWelcome: z.boolean().optional().describe('Queue the "Welcome — set your password" email to each new user, in the same transaction.'),
}).refine((b) => (b.users === undefined) !== (b.csv === undefined), { message: 'send either users or csv', path: ['users'] });
const ImportProblem = z.object({
  row: z.number().int().describe('the row\'s place in the list, from 1'), line: z.number().int().optional().describe('with `csv`: the row\'s line in the file'),
  email: z.string(), code: z.enum(['email', 'role', 'name', 'fields', 'duplicate', 'taken']), reason: z.string(),
});
const Status = z.enum(['active', 'disabled', 'locked']);
const ListQuery = z.object({
  q: z.string().max(200).optional(), after: z.string().max(300).optional(), limit: z.coerce.number().int().min(1).max(200).optional(),
  status: Status.optional(), role: Role.optional(),
  mfa: z.enum(['on', 'off']).optional().describe('with an active second factor, or without'),
  method: z.enum(['password', 'google', 'none']).optional().describe('can sign in with a password, with Google, or has no way yet'),
  inactiveDays: z.coerce.number().int().min(0).max(3650).optional().describe('last sign-in more than this many days ago, or never'),
});
export const AuditQuery = z.object({
  userId: z.string().uuid().optional(), type: z.string().max(64).optional(), actorType: z.enum(ACTOR_TYPES).optional(),
  from: z.string().max(40).optional().describe('written at or after: a day (2025-05-01, UTC) or an ISO date-time'),
  to: z.string().max(40).optional().describe('written before this ISO date-time, or up to the end of this day (2025-05-31)'),
  before: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(), limit: z.coerce.number().int().min(1).max(1000).optional(),
});
const UsersExportQuery = ListQuery.omit({ after: true, limit: true });
const ExportQuery = AuditQuery.omit({ before: true, limit: true }).extend({ format: z.enum(['csv', 'jsonl']).default('jsonl') });

export const UserView = z.object({
  id: z.string(), email: z.string(), name: z.string(), role: Role, status: Status,
  hasPassword: z.boolean(), lastLoginAt: z.iso.datetime().nullable(), createdAt: z.iso.datetime(),
});
const UserDetails = UserView.extend({
  signInMethods: z.array(z.enum(['password', 'google'])),
  pendingReset: z.object({
    issuedAt: z.iso.datetime(), expiresAt: z.iso.datetime(), origin: z.enum(['self', 'admin']),
    issuedBy: z.object({ type: z.enum(['user', 'admin', 'operator']), id: z.string().nullable(), email: z.string().nullable() }),
  }).nullable(),
  mfa: z.object({
    enabled: z.boolean(), types: z.array(z.enum(['totp', 'webauthn'])), recoveryCodesLeft: z.number().int(),
  }).describe('Two-step verification: whether the user has a confirmed factor, of which kinds, and how many unused recovery codes are left (counts only).'),
});
const AuditEvent = z.object({
  id: z.number().int(), type: z.string(), tenantId: z.string().nullable(), userId: z.string().nullable(),
  actor: z.object({ type: z.string(), id: z.string().nullable() }), ip: z.string().nullable(), data: z.unknown(), at: z.iso.datetime(),
  text: z.string().describe('The event as a sentence for people, in English: who did what to whom, and why ("Ann (admin) sent a reset link to ben@example.com — reason: locked out").'),
});
export const AuditList = z.object({ events: z.array(AuditEvent) });
export const Delivery = z.object({
  id: z.string(), tenantId: z.string().nullable(), channel: z.enum(['mail', 'http']), kind: z.string(),
  to: z.string().describe('mail: the address; http: the URL without its query string'), from: z.string().nullable(),
  subject: z.string().describe('empty for http'), status: z.enum(['queued', 'sending', 'sent', 'failed']),
  attempts: z.number().int(), lastError: z.string().nullable(), smtpResponse: z.string().nullable(),
  responseStatus: z.number().int().nullable().describe('http: status code of the last answer'),
  responseBody: z.string().nullable().describe("http: first 1 KiB of the last answer's body"),
  queuedAt: z.iso.datetime(), sentAt: z.iso.datetime().nullable(), nextAttemptAt: z.iso.datetime().nullable(),
});
const tags = ['users'];

/** A `from` or `to` of an audit query as a moment; anything but a day or an ISO date-time is a 400 naming it. */
function auditTimeOf(edge: 'from' | 'to', value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const at = auditTime(value, edge);
  if (!at) throw invalidRequest(`${edge}: a day (2025-05-01) or an ISO date-time (2025-05-01T08:00:00Z).`, { field: edge });
  return at;
}

/** An audit query's filter for listAudit: its `from` and `to` as moments. */
export function auditFilterOf<Q extends { from?: string; to?: string }>(q: Q): Omit<Q, 'from' | 'to'> & { from?: Date; to?: Date } {
  const { from, to, ...rest } = q;
  return { ...rest, from: auditTimeOf('from', from), to: auditTimeOf('to', to) };
}
const noUser = { 404: err('`not_found`: no such user in this tenant (another tenant\'s ids answer the same).') };

export function registerUserRoutes(app: FastifyInstance, ctx: Ctx, base: string, resolve: TenantResolver): void {
  app.get(`${base}/users`, needs('users.read', doc({
    summary: 'List users (search by email or name; filter by status, role, two-step verification, sign-in method, inactivity; keyset pagination; the total)', tags, query: ListQuery,
    responses: { 200: { description: 'A page of users, with their sign-in methods, two-step verification and pending reset link; `next` is the `after` of the next page.', schema: z.object({ users: z.array(UserDetails), next: z.string().nullable(), total: z.number().int().describe('how many users match the filter in all') }) }, ...common.invalid },
  })), async (request) => {
    const { tenant } = await resolve(request);
    return listUsers(ctx, tenant, parse(ListQuery, request.query ?? {}));
  });

  app.post(`${base}/users`, needs('users.create', doc({
    summary: 'Create a user; without a password, `sendWelcome: true` emails a link to set one', tags, body: CreateUser,
    responses: {
      201: { description: 'Created (`welcome` when the welcome email was queued).', schema: z.object({ id: z.string(), email: z.string(), welcome: z.object({ status: z.literal('queued'), expiresAt: z.iso.datetime() }).optional() }) },
      ...common.invalid, 409: err('A user with this email exists in this tenant.'), 422: err('`password_policy`, with `failed`.'),
    },
  })), async (request, reply) => {
    const { tenant, actor } = await resolve(request);
    const { sendWelcome: welcome, ...body } = parse(CreateUser, request.body);
    if (welcome && body.password !== undefined) throw invalidRequest('sendWelcome: the welcome email lets the user choose a password — leave out password.', { field: 'sendWelcome' });
    let sent: { expiresAt: Date } | undefined;
    const user = await createUser(ctx, tenant, body, actor, welcome ? async (tx, u) => { sent = await sendWelcome(ctx, tx, tenant, u, actor); } : undefined);
    return reply.status(201).send({ id: user.id, email: user.email, ...(sent ? { welcome: { status: 'queued', expiresAt: sent.expiresAt.toISOString() } } : {}) });
  });

  app.post(`${base}/users/import`, { ...needs('users.import', doc({
    summary: 'Create many users at once (rows or a CSV file): the valid rows in one transaction, the others skipped with reasons; `allOrNothing: true` creates nothing unless every row is valid', tags, body: ImportBody,
    responses: {
      200: { description: 'What was created and what was skipped, with reasons.', schema: z.object({ created: z.number().int(), skipped: z.array(ImportProblem) }) },
      ...common.invalid,
      422: err('`import_rejected` (with `allOrNothing`): nothing was created; `problems` lists every row that cannot be, with its reason.'),
    },
  })), bodyLimit: IMPORT_BODY_LIMIT }, async (request) => {
    const { tenant, actor } = await resolve(request);
    const body = parse(ImportBody, request.body);
    const rows = body.csv !== undefined ? rowsFromCsv(body.csv) : body.users!;
    return importUsers(ctx, tenant, rows, actor, {
      allOrNothing: body.allOrNothing, createdInTx: body.sendWelcome ? async (tx, made) => { await sendWelcomes(ctx, tx, tenant, made, actor); } : undefined,
    });
  });

  app.get(`${base}/users/export`, needs('users.export', doc({
    summary: 'Download the users as CSV (emails, not ids), narrowed by the list\'s filters', tags, query: UsersExportQuery,
    responses: {
      200: { description: `A streamed \`text/csv\` attachment in email order, columns ${USER_CSV_COLUMNS.join(', ')} (\`mfa\` and \`signInMethods\`: space-separated kinds; \`mfa\` is \`off\` without a factor). A cell that a spreadsheet could run as a formula starts with \`'\`.`, contentType: 'text/csv' },
      ...common.invalid,
    },
  })), async (request, reply) => {
    const { tenant } = await resolve(request);
    const filter = parse(UsersExportQuery, request.query ?? {});
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="${usersCsvName(tenant, ctx.clock.now())}"`)
      .header('cache-control', 'no-store')
      .send(Readable.from(exportUsersCsv(ctx, tenant, filter)));
  });

  app.get<{ Params: { id: string } }>(`${base}/users/:id`, needs('users.read', doc({
    summary: 'One user, with sign-in methods, two-step verification, pending reset link and linked identities', tags,
    responses: { 200: { description: 'The user.', schema: UserDetails.extend({ identities: z.array(z.looseObject({ id: z.string() })) }) }, ...noUser },
  })), async (request) => {
    const { tenant } = await resolve(request);
    const user = await getUser(ctx, tenant, request.params.id);
    const [details] = await detailedViews(ctx, tenant, [user]);
    return { ...details!, identities: await linkedIdentities(ctx, tenant, user.id) };
  });

  app.delete<{ Params: { id: string; identityId: string } }>(`${base}/users/:id/identities/:identityId`, needs('users.unlink', doc({
    summary: 'Unlink a Google identity (ends that user\'s Google sessions)', tags, responses: { 204: 'Unlinked.', ...noUser },
  })), async (request, reply) => {
    const { tenant, actor } = await resolve(request);
    await unlinkIdentity(ctx, tenant, request.params.id, request.params.identityId, actor);
    return reply.status(204).send();
  });

  app.patch<{ Params: { id: string } }>(`${base}/users/:id`, needs('users.edit', doc({
    summary: 'Change a user (disable, enable, unlock, role, name, email)', tags, body: PatchUser,
    responses: { 200: { description: 'The user as it is now.', schema: UserView }, ...common.invalid, ...noUser, 409: err('The new email is taken in this tenant.') },
  })), async (request) => {
    const { tenant, actor } = await resolve(request);
    const body = parse(PatchUser, request.body);
    return userView(await updateUser(ctx, tenant, request.params.id, body, actor));
  });

  app.delete<{ Params: { id: string } }>(`${base}/users/:id`, needs('users.erase', doc({
    summary: 'Erase a user: personal data removed, every session and app token revoked, the address free again', tags,
    description: 'One transaction: sessions and app sessions end (apps get a back-channel logout); the account row, its factors, linked identities, its reset links (a link that also covers the address\'s accounts in other tenants stays for those) and the mail sent to it go; audit lines stay under the id, which no longer leads to a person, without IP addresses, typed reasons or addresses. Webhook event `user.deleted` (with the id only). An admin cannot erase themselves, nor anyone the tenant\'s last enabled admin.',
    responses: { 204: 'Erased.', ...common.invalid, ...noUser },
  })), async (request, reply) => {
    const { tenant, actor } = await resolve(request);
    await eraseUser(ctx, tenant, request.params.id, actor);
    return reply.status(204).send();
  });

  // The public listener's 64 KiB body limit holds about 1,600 ids; a floor's bulk run may name BULK_MAX.
  app.post(`${base}/users/bulk`, { ...needs('users.bulk', doc({
    summary: 'One action for many users: send a reset, disable, enable, sign out everywhere, reset two-step verification', tags, body: BulkBody,
    description: 'Each user gets the single action (its own transaction, audit line with the reason, webhook event); one failure does not stop the rest. Supervisors may send resets, sign out and reset two-step verification, for members only (others fail with `forbidden`). `mfa-reset` needs a `reason`.',
    responses: { 200: { description: 'Per id: done or failed with why.', schema: BulkResultView }, ...common.invalid, 403: err('`forbidden`: the action is not open to this role.') },
  })), bodyLimit: BULK_MAX * 80 }, async (request) => {
    const { tenant, actor, role } = await resolve(request);
    return runBulk(ctx, tenant, parse(BulkBody, request.body), actor, role ?? 'admin');
  });

  app.post<{ Params: { id: string } }>(`${base}/users/:id/password-reset`, needs('users.reset', doc({
    summary: 'Start a reset for a user: email it, or make a link to hand over', tags, body: ResetBody,
    responses: {
      201: { description: '`delivery: "link"`: the link.', schema: z.object({ url: z.string(), expiresAt: z.iso.datetime() }) },
      202: { description: '`delivery: "email"`: queued.', schema: z.object({ status: z.literal('queued'), expiresAt: z.iso.datetime() }) },
      ...common.invalid, ...noUser,
    },
  })), async (request, reply) => {
    const { tenant, actor } = await resolve(request);
    const body = parse(ResetBody, request.body);
    const ttlMs = body.expiresIn ? parseDuration(body.expiresIn)! : undefined;
    const issued = await adminReset(ctx, tenant, request.params.id, { delivery: body.delivery, ttlMs, reason: body.reason }, actor);
    if (body.delivery === 'link') return reply.status(201).send({ url: issued.url, expiresAt: issued.expiresAt.toISOString() });
    return reply.status(202).send({ status: 'queued', expiresAt: issued.expiresAt.toISOString() });
  });

  app.post<{ Params: { id: string } }>(`${base}/users/:id/mfa-reset`, needs('users.mfa-reset', doc({
    summary: 'Reset a user\'s two-step verification (a lost phone)', tags, body: MfaResetBody,
    description: 'Removes every factor and recovery code, ends every session and open sign-in, emails the owner, and writes the audit with the reason. The owner signs in with the password alone afterwards (or is walked through adding a factor where the tenant requires one).',
    responses: { 200: { description: 'How many factors were removed.', schema: z.object({ removed: z.number().int() }) }, ...common.invalid, ...noUser },
  })), async (request) => {
    const { tenant, actor } = await resolve(request);
    const { reason } = parse(MfaResetBody, request.body);
    const user = await getUser(ctx, tenant, request.params.id);
    return resetFactors(ctx, { user, tenant }, reason, actor);
  });

  app.post<{ Params: { id: string } }>(`${base}/users/:id/unlock`, needs('users.unlock', doc({
    summary: 'Unlock an account locked from a "this wasn\'t me" link (supervisors too, for members)', tags,
    description: 'The same as `PATCH {"locked": false}`, which only admins may send. The user then needs a new password: send a reset.',
    responses: { 200: { description: 'The user as it is now.', schema: UserView }, ...noUser },
  })), async (request) => {
    const { tenant, actor } = await resolve(request);
    return userView(await updateUser(ctx, tenant, request.params.id, { locked: false }, actor));
  });

  app.post<{ Params: { id: string } }>(`${base}/users/:id/sign-out-everywhere`, needs('users.sign-out', doc({
    summary: 'Revoke every session of a user', tags,
    responses: { 200: { description: 'How many sessions were revoked.', schema: z.object({ revoked: z.number().int() }) }, ...noUser },
  })), async (request) => {
    const { tenant, actor } = await resolve(request);
    return { revoked: await signOutEverywhere(ctx, tenant, request.params.id, actor) };
  });

  app.get<{ Params: { id: string } }>(`${base}/users/:id/deliveries`, needs('users.read', doc({
    summary: 'Emails sent (or waiting) for a user, with attempts, SMTP replies and failure reasons', tags,
    responses: { 200: { description: 'Newest first.', schema: z.object({ deliveries: z.array(Delivery) }) }, ...noUser },
  })), async (request) => {
    const { tenant } = await resolve(request);
    const user = await getUser(ctx, tenant, request.params.id);
    return { deliveries: await deliveriesOf(ctx.db, { userId: user.id, tenantId: tenant.id }) };
  });

  app.get(`${base}/audit`, needs('audit.read', doc({
    summary: 'Audit events of this tenant, newest first, each with a sentence for people (`text`); filter by user, type, actor kind and time', tags: ['audit'], query: AuditQuery,
    responses: { 200: { description: 'Events.', schema: AuditList }, ...common.invalid, ...noUser },
  })), async (request) => {
    const { tenant } = await resolve(request);
    const q = parse(AuditQuery, request.query ?? {});
    if (q.userId) await getUser(ctx, tenant, q.userId);
    const events = await listAudit(ctx.db, { tenantId: tenant.id, ...auditFilterOf(q) });
    return { events: await withSentences(ctx, tenant, events, auditSentencesEn) };
  });

  app.get(`${base}/audit/export`, needs('audit.read', doc({
    summary: 'Download every matching audit event of this tenant, newest first, as CSV or JSON Lines', tags: ['audit'], query: ExportQuery,
    responses: {
      200: { description: 'A streamed attachment: `text/csv` (columns id, at, type, tenantId, userId, actor, ip, data) or `application/x-ndjson` (one event per line, as in /audit).', contentType: 'text/csv' },
      ...common.invalid, ...noUser,
    },
  })), async (request, reply) => {
    const { tenant } = await resolve(request);
    const { format, ...q } = parse(ExportQuery, request.query ?? {});
    if (q.userId) await getUser(ctx, tenant, q.userId);
    const filter = { tenantId: tenant.id, ...auditFilterOf(q) };
    const day = ctx.clock.now().toISOString().slice(0, 10);
    return reply
      .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
      .header('content-disposition', `attachment; filename="audit-${tenant.slug}-${day}.${format}"`)
      .header('cache-control', 'no-store')
      .send(Readable.from(exportAudit(ctx.db, filter, format)));
  });
}
