// The whole data model in one place. Works on PGlite (PG 18) and PostgreSQL 15: nothing newer than PG 15.
import { sql } from 'drizzle-orm';
import {
  pgTable, uuid, text, timestamp, jsonb, integer, bigserial, bigint, varchar, index, uniqueIndex, boolean, primaryKey,
} from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const id = () => uuid('id').primaryKey().default(sql`gen_random_uuid()`);

export const tenants = pgTable('tenants', {
  id: id(),
  slug: text('slug').notNull().unique(),
  name: text('name').notNull(),
  loginMethods: jsonb('login_methods').$type<string[]>().notNull().default(['password']),
  passwordPolicy: jsonb('password_policy').$type<Record<string, unknown>>().notNull().default({}),
  settings: jsonb('settings').$type<Record<string, unknown>>().notNull().default({}),
  createdAt: ts('created_at').notNull().defaultNow(),
});

export const users = pgTable('users', {
  id: id(),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
  email: text('email').notNull(),                     // as stored; mail always goes here
  emailCanonical: text('email_canonical').notNull(),  // trimmed, NFKC, lower-cased: the lookup key
  name: text('name').notNull().default(''),
  role: text('role').notNull().default('member'),
  passwordHash: text('password_hash'),
  passwordChangedAt: ts('password_changed_at'),
  disabledAt: ts('disabled_at'),
  lockedAt: ts('locked_at'),                          // set by "this wasn't me"
  lastLoginAt: ts('last_login_at'),
  createdAt: ts('created_at').notNull().defaultNow(),
  externalId: text('external_id'),                    // the identity provider's id for the user (SCIM)
  updatedAt: ts('updated_at'),                        // set by a trigger when email, name, role, status or externalId change
}, (t) => [
  uniqueIndex('users_tenant_email').on(t.tenantId, t.emailCanonical),
  index('users_email').on(t.emailCanonical),
  uniqueIndex('users_tenant_external_id').on(t.tenantId, t.externalId).where(sql`${t.externalId} is not null`),
  index('users_tenant_created').on(t.tenantId, t.createdAt, t.id),
  index('users_search_trgm').using('gin', sql`(${t.email} || ' ' || ${t.name}) gin_trgm_ops`),
  index('users_tenant_last_login').on(t.tenantId, t.lastLoginAt),
]);

export const sessions = pgTable('sessions', {
  idHash: text('id_hash').primaryKey(),               // the keyed hash of the token; never shown
  id: uuid('id').notNull().default(sql`gen_random_uuid()`), // the public id (device list, CONTRACT §8)
  userId: uuid('user_id').notNull().references(() => users.id),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
  authMethod: text('auth_method').notNull(),
  amr: jsonb('amr').$type<string[]>().notNull().default(['pwd']), // how the person proved it was them (RFC 8176)
  createdAt: ts('created_at').notNull(),
  expiresAt: ts('expires_at').notNull(),
  revokedAt: ts('revoked_at'),
  ip: text('ip'),
  userAgent: text('user_agent'),
  lastSeenAt: ts('last_seen_at'),                     // null: not used since it began; written at most every 5 min
  // An app session (OpenID provider, CONTRACT §9): the app, the browser session it was signed in
  // under, its grant, and the `sid` its ID token carries.
  clientId: text('client_id'),
  parentIdHash: text('parent_id_hash'),
  grantId: text('grant_id'),
  oidcSid: text('oidc_sid'),
}, (t) => [
  index('sessions_user').on(t.userId), uniqueIndex('sessions_id').on(t.id),
  index('sessions_parent').on(t.parentIdHash).where(sql`${t.parentIdHash} is not null`),
  uniqueIndex('sessions_grant').on(t.grantId).where(sql`${t.grantId} is not null`),
]);

export const resetTokens = pgTable('reset_tokens', {
  id: id(),
  emailCanonical: text('email_canonical').notNull(),
  tenantIds: jsonb('tenant_ids').$type<string[]>().notNull(),
  tokenHash: text('token_hash').notNull().unique(),
  codeHash: text('code_hash').notNull(),
  codeAttempts: integer('code_attempts').notNull().default(0),
  origin: text('origin').notNull(),                   // 'self' | 'admin'
  createdBy: text('created_by'),
  reason: text('reason'),
  createdAt: ts('created_at').notNull(),
  expiresAt: ts('expires_at').notNull(),
  usedAt: ts('used_at'),
  supersededAt: ts('superseded_at'),                  // when the newer link was made
  supersededBy: text('superseded_by'),                // how the newer one went out: 'email' | 'link'
  revokedAt: ts('revoked_at'),                        // password/email changed or account disabled
  revokedReason: text('revoked_reason'),
}, (t) => [index('reset_tokens_email').on(t.emailCanonical, t.codeHash)]);

export const loginTickets = pgTable('login_tickets', {
  ticketHash: text('ticket_hash').primaryKey(),
  emailCanonical: text('email_canonical').notNull(),
  userIds: jsonb('user_ids').$type<string[]>().notNull(),
  expiresAt: ts('expires_at').notNull(),
  usedAt: ts('used_at'),
});

export const lockTokens = pgTable('lock_tokens', {
  tokenHash: text('token_hash').primaryKey(),
  userId: uuid('user_id').notNull().references(() => users.id),
  createdAt: ts('created_at').notNull(),
  expiresAt: ts('expires_at').notNull(),
  usedAt: ts('used_at'),
});

// "Was this you?": after the account-wide sign-in budget is spent, the owner gets a link that makes
// the browser it is opened in a trusted device for the address (the abuse feature's devices.ts).
export const unlockTokens = pgTable('unlock_tokens', {
  tokenHash: text('token_hash').primaryKey(),
  emailCanonical: text('email_canonical').notNull(),
  createdAt: ts('created_at').notNull(),
  expiresAt: ts('expires_at').notNull(),
  usedAt: ts('used_at'),
});

export const outbox = pgTable('outbox', {
  id: id(),
  tenantId: uuid('tenant_id'),
  userId: uuid('user_id'),
  channel: text('channel').notNull().default('mail'), // mail | http
  kind: text('kind').notNull(),
  toAddress: text('to_address').notNull(),            // mail: the address; http: the URL
  fromAddress: text('from_address'),                  // the tenant's sender; null = MAIL_FROM
  subject: text('subject').notNull(),                 // '' for http
  sealedBody: text('sealed_body'),                    // encrypted {text, html} | payload; dropped once sent or given up
  status: text('status').notNull().default('queued'), // queued | sending | sent | failed
  attempts: integer('attempts').notNull().default(0),
  nextAttemptAt: ts('next_attempt_at').notNull(),
  leaseUntil: ts('lease_until'),
  lastError: text('last_error'),
  smtpResponse: text('smtp_response'),
  responseStatus: integer('response_status'),         // http: status code of the last answer
  responseBody: text('response_body'),                // http: first 1 KiB of the last answer's body
  createdAt: ts('created_at').notNull(),
  sentAt: ts('sent_at'),
}, (t) => [
  index('outbox_due').on(t.status, t.nextAttemptAt),
  index('outbox_user').on(t.userId),
]);

// A forgot-password request is recorded and answered at once; the worker resolves it later, so the
// answer costs the same whether or not the address has an account, and deletes it then.
// processed_at is set only by earlier builds; the worker deletes their rows (sweepResolvedRequests).
export const resetRequests = pgTable('reset_requests', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  emailCanonical: text('email_canonical').notNull(),
  tenantSlug: text('tenant_slug'),
  ip: text('ip'),
  createdAt: ts('created_at').notNull(),
  processedAt: ts('processed_at'),
  leaseUntil: ts('lease_until'),
}, (t) => [
  index('reset_requests_open').on(t.id).where(sql`${t.processedAt} is null`),
  index('reset_requests_resolved').on(t.id).where(sql`${t.processedAt} is not null`),
]);

export const auditEvents = pgTable('audit_events', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  tenantId: uuid('tenant_id'),
  userId: uuid('user_id'),
  actorType: text('actor_type').notNull(),            // user | admin | operator | system
  actorId: text('actor_id'),
  type: text('type').notNull(),
  ip: text('ip'),
  data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
  createdAt: ts('created_at').notNull(),
}, (t) => [index('audit_tenant').on(t.tenantId, t.id), index('audit_user').on(t.userId, t.id), index('audit_tenant_time').on(t.tenantId, t.createdAt)]);

export const schemaMeta = pgTable('keyturn_meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  flag: boolean('flag'),
});

// Single sign-on (OpenID Connect). An identity is the IdP's (issuer, subject) linked to one account
// of one tenant on first use; afterwards sign-in matches by subject, never by email again.
export const ssoIdentities = pgTable('sso_identities', {
  id: id(),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
  userId: uuid('user_id').notNull().references(() => users.id),
  issuer: text('issuer').notNull(),
  subject: text('subject').notNull(),
  emailAtLink: text('email_at_link').notNull(),       // what the IdP said when the link was made
  createdAt: ts('created_at').notNull(),
  lastUsedAt: ts('last_used_at'),
}, (t) => [
  uniqueIndex('sso_identities_subject').on(t.tenantId, t.issuer, t.subject),
  uniqueIndex('sso_identities_user').on(t.userId, t.issuer),
]);

// A started SSO sign-in, consumed once by its callback. Only the state's keyed hash is stored; the
// PKCE verifier is sealed; the browser that started it holds the state in a cookie.
export const ssoStates = pgTable('sso_states', {
  stateHash: text('state_hash').primaryKey(),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
  nonce: text('nonce').notNull(),
  sealedVerifier: text('sealed_verifier').notNull(),
  returnTo: text('return_to').notNull(),
  createdAt: ts('created_at').notNull(),
  expiresAt: ts('expires_at').notNull(),
  usedAt: ts('used_at'),
}, (t) => [index('sso_states_expiry').on(t.expiresAt)]);

// Hashes of the passwords an account had, newest last: the tenants' "not one of your last N
// passwords" rule (`not_reused`). Written in the transaction that sets the password.
export const passwordHistory = pgTable('password_history', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  passwordHash: text('password_hash').notNull(),
  createdAt: ts('created_at').notNull(),
}, (t) => [index('password_history_user').on(t.userId, t.id)]);

// The shape rate-limiter-flexible's RateLimiterPostgres expects (`tableCreated: true`): the shared
// counters when DATABASE_URL is a PostgreSQL server and REDIS_URL is unset. `expire` is epoch ms.
export const rateLimits = pgTable('rate_limits', {
  key: varchar('key', { length: 255 }).primaryKey(),
  points: integer('points').notNull().default(0),
  expire: bigint('expire', { mode: 'number' }),
}, (t) => [index('rate_limits_expire').on(t.expire)]);

// Second factors of an account (the mfa feature). A TOTP secret is sealed under a key derived from
// the server secret; `last_step` is the last time step accepted, so a code works once. A WebAuthn
// credential keeps what verifying its assertions needs: public key, signature counter, transports.
export const mfaFactors = pgTable('mfa_factors', {
  id: id(),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  type: text('type').notNull(),                       // totp | webauthn
  label: text('label').notNull(),
  status: text('status').notNull(),                   // pending (a TOTP before its first code) | active
  sealedSecret: text('sealed_secret'),
  lastStep: bigint('last_step', { mode: 'number' }),
  credentialId: text('credential_id'),                // base64url
  publicKey: text('public_key'),                      // base64url COSE key
  signCount: bigint('sign_count', { mode: 'number' }),
  transports: jsonb('transports').$type<string[]>(),
  aaguid: text('aaguid'),
  createdAt: ts('created_at').notNull(),
  lastUsedAt: ts('last_used_at'),
}, (t) => [index('mfa_factors_user').on(t.userId), uniqueIndex('mfa_factors_credential').on(t.credentialId)]);

// Recovery codes as keyed hashes, ten to a set; a new set replaces the old one.
export const recoveryCodes = pgTable('recovery_codes', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  codeHash: text('code_hash').notNull(),
  createdAt: ts('created_at').notNull(),
  usedAt: ts('used_at'),
}, (t) => [index('recovery_codes_user').on(t.userId)]);

// The second step of a sign-in: what the first step proved, for whom, bound to the client that
// proved it. `enroll` tickets only allow adding a factor (tenants that require one).
export const mfaTickets = pgTable('mfa_tickets', {
  ticketHash: text('ticket_hash').primaryKey(),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  purpose: text('purpose').notNull(),                 // sign_in | enroll
  clientHash: text('client_hash').notNull(),
  authMethod: text('auth_method').notNull(),          // the first factor: password | google
  auditData: jsonb('audit_data').$type<Record<string, unknown>>().notNull().default({}),
  failures: integer('failures').notNull().default(0),
  createdAt: ts('created_at').notNull(),
  expiresAt: ts('expires_at').notNull(),
  usedAt: ts('used_at'),
}, (t) => [index('mfa_tickets_expiry').on(t.expiresAt)]);

// Keyturn as the OpenID Provider of the platform's apps (src/features/oidc, migration 0011).
export const oidcPayloads = pgTable('oidc_payloads', {
  kind: text('kind').notNull(),
  id: text('id').notNull(),
  payload: jsonb('payload').notNull(),
  grantId: text('grant_id'),
  uid: text('uid'),
  expiresAt: ts('expires_at'),
  consumedAt: ts('consumed_at'),
}, (t) => [
  primaryKey({ columns: [t.kind, t.id] }),
  index('oidc_payloads_grant').on(t.grantId).where(sql`${t.grantId} is not null`),
  index('oidc_payloads_uid').on(t.uid).where(sql`${t.uid} is not null`),
  index('oidc_payloads_expires').on(t.expiresAt),
]);

export const oidcClients = pgTable('oidc_clients', {
  clientId: text('client_id').primaryKey(),
  name: text('name').notNull(),
  type: text('type').notNull(),                       // confidential | public
  sealedSecret: text('sealed_secret'),
  redirectUris: jsonb('redirect_uris').$type<string[]>().notNull(),
  postLogoutRedirectUris: jsonb('post_logout_redirect_uris').$type<string[]>().notNull().default([]),
  backchannelLogoutUri: text('backchannel_logout_uri'),
  tenants: jsonb('tenants').$type<string[]>(),
  createdAt: ts('created_at').notNull(),
});

export const oidcKeys = pgTable('oidc_keys', {
  kid: text('kid').primaryKey(),
  alg: text('alg').notNull(),
  publicJwk: jsonb('public_jwk').notNull(),
  sealedPrivate: text('sealed_private').notNull(),
  createdAt: ts('created_at').notNull(),
  retiredAt: ts('retired_at'),
});

// ── webhooks (CONTRACT §10, migrations/0012_webhooks.sql) ──

/** An endpoint: a tenant's (tenant_id) or the operator's (tenant_id null; `tenants` = ids, null = every tenant). */
export const webhookEndpoints = pgTable('webhook_endpoints', {
  id: id(),
  tenantId: uuid('tenant_id').references(() => tenants.id, { onDelete: 'cascade' }),
  tenants: jsonb('tenants').$type<string[]>(),
  url: text('url').notNull(),
  events: jsonb('events').$type<string[]>().notNull(),
  description: text('description').notNull().default(''),
  sealedSecret: text('sealed_secret').notNull(),
  sealedPreviousSecret: text('sealed_previous_secret'),  // still signs until previous_secret_until (rotation)
  previousSecretUntil: ts('previous_secret_until'),
  disabledAt: ts('disabled_at'),
  disabledReason: text('disabled_reason'),                // 'admin' | 'failing'
  createdAt: ts('created_at').notNull(),
  updatedAt: ts('updated_at').notNull(),
}, (t) => [index('webhook_endpoints_enabled').on(t.tenantId).where(sql`${t.disabledAt} is null`)]);

/** An event as sent ({id, type, timestamp, tenant, data}), written in the transaction of the change. */
export const webhookEvents = pgTable('webhook_events', {
  id: uuid('id').primaryKey(),
  tenantId: uuid('tenant_id'),
  userId: uuid('user_id'),
  type: text('type').notNull(),
  payload: jsonb('payload').notNull(),
  createdAt: ts('created_at').notNull(),
});

/** One event to one endpoint; the id is the `webhook-id` header. Attempts live on the outbox row and in webhook_attempts. */
export const webhookDeliveries = pgTable('webhook_deliveries', {
  id: uuid('id').primaryKey(),
  endpointId: uuid('endpoint_id').notNull().references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
  eventId: uuid('event_id').notNull().references(() => webhookEvents.id, { onDelete: 'cascade' }),
  outboxId: uuid('outbox_id').notNull(),
  createdAt: ts('created_at').notNull(),
}, (t) => [index('webhook_deliveries_endpoint').on(t.endpointId, t.createdAt), uniqueIndex('webhook_deliveries_outbox').on(t.outboxId)]);

export const webhookAttempts = pgTable('webhook_attempts', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  deliveryId: uuid('delivery_id').notNull().references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
  attempt: integer('attempt').notNull(),
  at: ts('at').notNull(),
  outcome: text('outcome').notNull(),                    // delivered | retry | failed
  responseStatus: integer('response_status'),
  responseBody: text('response_body'),                   // first 1 KiB of the answer
  error: text('error'),
}, (t) => [index('webhook_attempts_delivery').on(t.deliveryId, t.id)]);

// ── SCIM provisioning (CONTRACT §11, migrations/0015_scim.sql) ──

/** A bearer token an identity provider calls /scim/v2/{slug} with: one tenant, only its keyed hash kept. */
export const scimTokens = pgTable('scim_tokens', {
  id: id(),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id, { onDelete: 'cascade' }),
  label: text('label').notNull().default(''),
  tokenHash: text('token_hash').notNull(),
  createdAt: ts('created_at').notNull(),
  lastUsedAt: ts('last_used_at'),                        // written at most every few minutes
}, (t) => [uniqueIndex('scim_tokens_hash').on(t.tokenHash), index('scim_tokens_tenant').on(t.tenantId, t.createdAt)]);
