// The SCIM 2.0 door (RFC 7644) on the public listener: PUBLIC_URL/scim/v2/{slug}/…, one tenant per
// URL, called by the tenant's identity provider with one of the tenant's SCIM tokens. A plugin of
// its own: it reads and answers application/scim+json, and every refusal — a bad token, a bad
// filter, a body that is not JSON, a rule of the account functions — is answered in SCIM's error
// shape by its own error handler. A token of another tenant is the same 401 as no token at all.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Ctx } from '../../context.ts';
import { AppError } from '../../errors.ts';
import { refuseNul, safeError } from '../../platform/http.ts';
import { eraseUser } from '../accounts/erase.ts';
import { getUser, type User } from '../accounts/accounts.ts';
import type { Actor } from '../audit/audit.ts';
import { SLUG, tenantBySlug, type Tenant } from '../tenants/store.ts';
import { LIST_SCHEMA, listOf, serviceProviderConfig, userResourceType, userSchema } from './discovery.ts';
import { badToken, invalidSyntax, invalidValue, ScimError, scimErrorOf } from './errors.ts';
import { readPatch } from './patch.ts';
import { authenticate } from './tokens.ts';
import { parseUserResource, toScimUser, USER_SCHEMA } from './user-resource.ts';
import { changeScimUser, createScimUser, DEFAULT_COUNT, listScimUsers, MAX_COUNT } from './users.ts';

export const SCIM_PREFIX = '/scim/v2';
const SCIM_JSON = 'application/scim+json; charset=utf-8';
// A User resource or a PatchOp is a few KiB; 64 KiB leaves room for verbose directories.
const BODY_LIMIT = 64 * 1024;

/** Who is calling, as the token check found it: the tenant of the URL and the token's actor. */
interface Caller { tenant: Tenant; actor: Actor; base: string; }

const caller = (request: FastifyRequest) => request.getDecorator<Caller>('scim');

function bearer(request: FastifyRequest): string | null {
  return /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1] ?? null;
}

/** startIndex and count as RFC 7644 §3.4.2.4 reads them: below 1 is 1, a negative count is 0; count at most MAX_COUNT. */
function paging(query: Record<string, unknown>): { startIndex: number; count: number } {
  const int = (name: string, fallback: number) => {
    const raw = query[name];
    if (raw === undefined || raw === '') return fallback;
    if (typeof raw !== 'string' || !/^-?\d{1,9}$/.test(raw)) throw invalidValue(`${name}: must be an integer.`);
    return Number(raw);
  };
  return { startIndex: Math.max(1, int('startIndex', 1)), count: Math.min(MAX_COUNT, Math.max(0, int('count', DEFAULT_COUNT))) };
}

function filterOf(query: Record<string, unknown>): string | undefined {
  const f = query.filter;
  if (f === undefined) return undefined;
  if (typeof f !== 'string') throw invalidSyntax('filter: give it once.');
  return f;
}

export async function scimRoutes(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  await app.register(async (scim) => {
    // JSON under SCIM's media type too; forms are not SCIM.
    scim.removeContentTypeParser('application/x-www-form-urlencoded');
    scim.addContentTypeParser('application/scim+json', { parseAs: 'string', bodyLimit: BODY_LIMIT }, scim.getDefaultJsonParser('error', 'error'));
    scim.decorateRequest('scim', null);

    scim.setErrorHandler((err: FastifyError | AppError | ScimError, request, reply) => {
      let e: unknown = err;
      const status = (err as FastifyError).statusCode;
      if (!(err instanceof ScimError) && !(err instanceof AppError) && status && status >= 400 && status < 500) {
        e = status === 413 ? new ScimError(413, null, `The request body is larger than ${BODY_LIMIT / 1024} KiB.`)
          : status === 415 ? new ScimError(415, null, 'Send the body as application/scim+json (or application/json).')
          : invalidSyntax(/JSON/i.test(err.message) ? 'The request body is not valid JSON.' : 'The request is not valid.');
      }
      const answer = scimErrorOf(e);
      if (answer.status >= 500) request.log.error({ err: safeError(err) }, 'unhandled error');
      reply.errorCode = `scim_${(answer.body.scimType as string | undefined) ?? answer.status}`;
      return reply.status(answer.status).headers(answer.headers).send(answer.body);
    });
    scim.setNotFoundHandler((_request, reply) => {
      const answer = scimErrorOf(new ScimError(404, null, 'There is nothing at this address: the SCIM endpoints are /scim/v2/{tenant}/Users, /ServiceProviderConfig, /ResourceTypes and /Schemas.'));
      return reply.status(404).send(answer.body);
    });

    scim.addHook('onSend', async (_request, reply) => {
      reply.header('content-type', SCIM_JSON).header('cache-control', 'no-store');
    });

    // Before the body is read: no token of this tenant, no work.
    scim.addHook('onRequest', async (request) => {
      const slug = (request.params as { slug?: string } | undefined)?.slug;
      if (slug === undefined) return; // no route: the not-found handler answers
      const token = bearer(request);
      const tenant = token && SLUG.test(slug) ? await tenantBySlug(ctx.db, slug) : undefined;
      const tokenId = tenant && token ? await authenticate(ctx, tenant.id, token) : null;
      if (!tenant || !tokenId) throw badToken();
      request.tenantSlug = tenant.slug;
      request.setDecorator<Caller>('scim', {
        tenant, actor: { type: 'system', id: `scim:${tokenId}`, ip: request.ip }, base: `${ctx.config.publicUrl}${SCIM_PREFIX}/${tenant.slug}`,
      });
    });

    const resource = (c: Caller, user: User) => toScimUser(user, `${c.base}/Users/${user.id}`);
    const body = (request: FastifyRequest) => {
      refuseNul(request.body);
      return request.body;
    };

    scim.get('/:slug/ServiceProviderConfig', async (request) => serviceProviderConfig(caller(request).base));
    scim.get('/:slug/ResourceTypes', async (request) => listOf([userResourceType(caller(request).base)]));
    scim.get('/:slug/ResourceTypes/User', async (request) => userResourceType(caller(request).base));
    scim.get('/:slug/Schemas', async (request) => listOf([userSchema(caller(request).base)]));
    scim.get<{ Params: { slug: string; id: string } }>('/:slug/Schemas/:id', async (request) => {
      if (request.params.id !== USER_SCHEMA) throw new ScimError(404, null, `No schema "${request.params.id.slice(0, 100)}" here: only ${USER_SCHEMA}.`);
      return userSchema(caller(request).base);
    });

    scim.get('/:slug/Users', async (request) => {
      const c = caller(request);
      const query = (request.query ?? {}) as Record<string, unknown>;
      const { startIndex, count } = paging(query);
      const { total, rows } = await listScimUsers(ctx, c.tenant, { filter: filterOf(query), startIndex, count });
      return { schemas: [LIST_SCHEMA], totalResults: total, itemsPerPage: rows.length, startIndex, Resources: rows.map((u) => resource(c, u)) };
    });

    scim.post('/:slug/Users', async (request, reply) => {
      const c = caller(request);
      const user = await createScimUser(ctx, c.tenant, parseUserResource(body(request)), c.actor);
      const created = resource(c, user);
      return reply.status(201).header('location', created.meta.location).send(created);
    });

    scim.get<{ Params: { slug: string; id: string } }>('/:slug/Users/:id', async (request) => {
      const c = caller(request);
      return resource(c, await getUser(ctx, c.tenant, request.params.id));
    });

    // PUT replaces what Keyturn keeps; attributes left out (name, externalId, active) stay as they are.
    scim.put<{ Params: { slug: string; id: string } }>('/:slug/Users/:id', async (request) => {
      const c = caller(request);
      const user = await getUser(ctx, c.tenant, request.params.id);
      const input = parseUserResource(body(request));
      return resource(c, await changeScimUser(ctx, c.tenant, user, input, c.actor));
    });

    scim.patch<{ Params: { slug: string; id: string } }>('/:slug/Users/:id', async (request) => {
      const c = caller(request);
      const user = await getUser(ctx, c.tenant, request.params.id);
      return resource(c, await changeScimUser(ctx, c.tenant, user, readPatch(body(request), user), c.actor));
    });

    scim.delete<{ Params: { slug: string; id: string } }>('/:slug/Users/:id', async (request, reply: FastifyReply) => {
      const c = caller(request);
      await eraseUser(ctx, c.tenant, request.params.id, c.actor);
      return reply.status(204).send();
    });
  }, { prefix: SCIM_PREFIX });
}
