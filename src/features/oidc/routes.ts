// Where the provider meets the listeners: oidc-provider's endpoints and discovery on the public
// listener (it reads its own request bodies), the interaction (interaction.ts), and the operator's
// registration of apps on the admin listener.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Ctx } from '../../context.ts';
import { notFound } from '../../errors.ts';
import { parse } from '../../platform/http.ts';
import { common, doc, err } from '../../platform/openapi.ts';
import { securityHeaders } from '../../platform/security-headers.ts';
import { audit } from '../audit/audit.ts';
import { ClientInput, createClient, deleteClient, listClients } from './clients.ts';
import { interactionRoutes } from './interaction.ts';
import { rotateKeys } from './keys.ts';
import { OIDC_PREFIX, type OidcProvider } from './provider.ts';
import { withRequestFacts } from './request-context.ts';

/** The provider's endpoints, handed to oidc-provider untouched (bodies included). */
export async function providerRoutes(app: FastifyInstance, { ctx, oidc }: { ctx: Ctx; oidc: OidcProvider }) {
  const headers = securityHeaders(ctx.config.publicUrl);
  app.register(async (scope) => {
    // oidc-provider parses its own bodies: leave the stream to it.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    // One request handler per provider (it is rebuilt when the keys change).
    const handlers = new WeakMap<object, (req: unknown, res: unknown) => Promise<void>>();
    const handOver = async (request: FastifyRequest, reply: FastifyReply) => {
      const provider = await oidc.get();
      let handle = handlers.get(provider);
      if (!handle) handlers.set(provider, handle = provider.callback() as unknown as (req: unknown, res: unknown) => Promise<void>);
      reply.hijack();
      for (const [name, value] of Object.entries(headers)) reply.raw.setHeader(name, value);
      await withRequestFacts(request.headers, () => handle(request.raw, reply.raw));
    };
    scope.all('/.well-known/openid-configuration', handOver);
    scope.all(`${OIDC_PREFIX}/*`, handOver);
  });
  await app.register(interactionRoutes, { ctx, oidc });
}

const ClientView = z.object({
  clientId: z.string(), name: z.string(), type: z.enum(['confidential', 'public']), redirectUris: z.array(z.string()),
  postLogoutRedirectUris: z.array(z.string()), backchannelLogoutUri: z.string().nullable(), tenants: z.array(z.string()).nullable(),
  createdAt: z.iso.datetime(),
});
const KeyView = z.object({ kid: z.string(), alg: z.string(), createdAt: z.iso.datetime(), retiredAt: z.iso.datetime().nullable(), signing: z.boolean() });
const tags = ['apps (OpenID Connect)'];
const OPERATOR = { type: 'operator' as const, id: 'api-key' };

export function registerClientRoutes(app: FastifyInstance, ctx: Ctx) {
  app.post('/admin/v1/oidc/clients', doc({
    summary: 'Register an app that signs people in through Keyturn (OpenID Connect)', tags, body: ClientInput,
    responses: { 201: { description: 'Registered. `clientSecret` (confidential apps) is shown this once.', schema: ClientView.extend({ clientSecret: z.string().optional() }) }, ...common.invalid },
  }), async (request, reply) => {
    const client = await createClient(ctx, parse(ClientInput, request.body));
    await audit(ctx.db, { ...OPERATOR, ip: request.ip }, ctx.clock.now(), { type: 'oidc_client_created', data: { clientId: client.clientId, name: client.name } });
    return reply.status(201).send(client);
  });

  app.get('/admin/v1/oidc/clients', doc({
    summary: 'The registered apps', tags, responses: { 200: { description: 'Every app (never a secret).', schema: z.object({ clients: z.array(ClientView) }) } },
  }), async () => ({ clients: await listClients(ctx.db) }));

  app.post('/admin/v1/oidc/keys/rotate', doc({
    summary: 'Add a new signing key (the previous ones keep verifying; keys superseded over a day ago retire)', tags,
    responses: { 200: { description: 'The keys, newest first (public facts only).', schema: z.object({ keys: z.array(KeyView) }) } },
  }), async (request) => {
    const keys = await rotateKeys(ctx);
    await audit(ctx.db, { ...OPERATOR, ip: request.ip }, ctx.clock.now(), { type: 'oidc_key_rotated', data: { kid: keys[0]!.kid } });
    return { keys };
  });

  app.delete<{ Params: { clientId: string } }>('/admin/v1/oidc/clients/:clientId', doc({
    summary: 'Remove an app: its sessions end, its tokens stop working, it is sent back-channel logouts', tags,
    responses: { 204: { description: 'Removed.' }, 404: err('`not_found`: no such app.') },
  }), async (request, reply) => {
    const { clientId } = request.params;
    const removed = await ctx.db.transaction(async (tx) => {
      await ctx.sessions.endApps(tx, { clientId }, 'app_removed');
      if (!await deleteClient(ctx.db, tx, clientId)) return false;
      await audit(tx, { ...OPERATOR, ip: request.ip }, ctx.clock.now(), { type: 'oidc_client_deleted', data: { clientId } });
      return true;
    });
    if (!removed) throw notFound('No such app.');
    return reply.status(204).send();
  });
}
