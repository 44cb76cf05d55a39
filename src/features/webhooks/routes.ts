// The webhook routes, one shape for two doors (CONTRACT §10): the operator API (/admin/v1/webhooks,
// every endpoint) and the tenant admin API (/api/v1/admin/webhooks, the admin's tenant only:
// another tenant's ids answer 404).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Ctx } from '../../context.ts';
import { parse } from '../../platform/http.ts';
import { common, doc, err } from '../../platform/openapi.ts';
import type { Actor } from '../audit/audit.ts';
import { needs } from '../admin/permissions.ts';
import { CreateEndpoint, createEndpoint, deleteEndpoint, EndpointView, getEndpoint, listEndpoints, PatchEndpoint, updateEndpoint, type Scope } from './endpoints.ts';
import { listWebhookDeliveries, redeliver, sendTestEvent } from './delivery.ts';

export type ScopeResolver = (request: FastifyRequest) => Promise<{ scope: Scope; actor: Actor }>;

const Attempt = z.object({
  attempt: z.number().int(), at: z.iso.datetime(), outcome: z.enum(['delivered', 'retry', 'failed']),
  status: z.number().int().nullable().describe("the answer's status code; null when none came (refused, timeout, connection error)"),
  responseBody: z.string().nullable().describe("the first 1 KiB of the answer's body"),
  error: z.string().nullable(),
});
const WebhookDelivery = z.object({
  id: z.string().describe('the `webhook-id` header: the same on every attempt and on a redelivery'),
  eventId: z.string(), type: z.string(), status: z.enum(['queued', 'sending', 'sent', 'failed']),
  createdAt: z.iso.datetime(), deliveredAt: z.iso.datetime().nullable(), nextAttemptAt: z.iso.datetime().nullable(),
  lastError: z.string().nullable(), attempts: z.array(Attempt),
});
const DeliveriesQuery = z.object({ limit: z.coerce.number().int().min(1).max(200).optional() });
const tags = ['webhooks'];
const noEndpoint = { 404: err('`not_found`: no such webhook endpoint (or another tenant\'s).') };
const refused = { 422: err('`destination_refused`: the URL points at a loopback, private, link-local or metadata address (not in WEBHOOK_ALLOWED_HOSTS), or does not resolve.') };
const disabled = { 409: err('`endpoint_disabled`: enable the endpoint first.') };

export function registerWebhookRoutes(app: FastifyInstance, ctx: Ctx, base: string, resolve: ScopeResolver): void {
  app.post(`${base}/webhooks`, needs('webhooks.manage', doc({
    summary: 'Register a webhook endpoint', tags, body: CreateEndpoint,
    description: 'Events are signed (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`) with the secret answered here, once.',
    responses: { 201: { description: 'Registered. `secret` (`whsec_…`) is shown this once.', schema: EndpointView.extend({ secret: z.string() }) }, ...common.invalid, ...refused },
  })), async (request, reply) => {
    const { scope, actor } = await resolve(request);
    return reply.status(201).send(await createEndpoint(ctx, scope, parse(CreateEndpoint, request.body), actor));
  });

  app.get(`${base}/webhooks`, needs('webhooks.manage', doc({
    summary: 'The webhook endpoints', tags,
    responses: { 200: { description: 'Newest first (never a secret).', schema: z.object({ webhooks: z.array(EndpointView) }) } },
  })), async (request) => {
    const { scope } = await resolve(request);
    return { webhooks: await listEndpoints(ctx, scope) };
  });

  app.get<{ Params: { id: string } }>(`${base}/webhooks/:id`, needs('webhooks.manage', doc({
    summary: 'One webhook endpoint', tags, responses: { 200: { description: 'The endpoint (never its secret).', schema: EndpointView }, ...noEndpoint },
  })), async (request) => {
    const { scope } = await resolve(request);
    return getEndpoint(ctx, scope, request.params.id);
  });

  app.patch<{ Params: { id: string } }>(`${base}/webhooks/:id`, needs('webhooks.manage', doc({
    summary: 'Change a webhook endpoint (disable, enable, events, URL), or rotate its secret', tags, body: PatchEndpoint,
    description: 'With `rotateSecret: true` the answer carries the new `secret` (once); for 24 hours deliveries are signed with both the new and the previous secret (two signatures in `webhook-signature`), so receivers can switch without losing an event.',
    responses: { 200: { description: 'The endpoint as it is now (`secret` only after a rotation).', schema: EndpointView.extend({ secret: z.string().optional() }) }, ...common.invalid, ...noEndpoint, ...refused },
  })), async (request) => {
    const { scope, actor } = await resolve(request);
    return updateEndpoint(ctx, scope, request.params.id, parse(PatchEndpoint, request.body), actor);
  });

  app.delete<{ Params: { id: string } }>(`${base}/webhooks/:id`, needs('webhooks.manage', doc({
    summary: 'Delete a webhook endpoint (and its delivery log; queued deliveries are dropped)', tags,
    responses: { 204: 'Deleted.', ...noEndpoint },
  })), async (request, reply) => {
    const { scope, actor } = await resolve(request);
    await deleteEndpoint(ctx, scope, request.params.id, actor);
    return reply.status(204).send();
  });

  app.get<{ Params: { id: string } }>(`${base}/webhooks/:id/deliveries`, needs('webhooks.manage', doc({
    summary: 'Deliveries of an endpoint with every attempt (status, time, first 1 KiB of the answer)', tags, query: DeliveriesQuery,
    responses: { 200: { description: 'Newest first.', schema: z.object({ deliveries: z.array(WebhookDelivery) }) }, ...common.invalid, ...noEndpoint },
  })), async (request) => {
    const { scope } = await resolve(request);
    const q = parse(DeliveriesQuery, request.query ?? {});
    return { deliveries: await listWebhookDeliveries(ctx, scope, request.params.id, q.limit) };
  });

  app.post<{ Params: { id: string; deliveryId: string } }>(`${base}/webhooks/:id/deliveries/:deliveryId/retry`, needs('webhooks.manage', doc({
    summary: 'Redeliver an event (the same `webhook-id`), now, with a fresh retry window', tags,
    responses: { 202: { description: 'Queued.', schema: z.object({ id: z.string(), status: z.literal('queued') }) }, ...noEndpoint, ...disabled },
  })), async (request, reply) => {
    const { scope, actor } = await resolve(request);
    return reply.status(202).send(await redeliver(ctx, scope, request.params.id, request.params.deliveryId, actor));
  });

  app.post<{ Params: { id: string } }>(`${base}/webhooks/:id/test`, needs('webhooks.manage', doc({
    summary: 'Send a test event (`webhook.test`) to this endpoint', tags,
    responses: { 202: { description: 'Queued; follow it in the deliveries.', schema: z.object({ deliveryId: z.string(), eventId: z.string() }) }, ...noEndpoint, ...disabled },
  })), async (request, reply) => {
    const { scope } = await resolve(request);
    return reply.status(202).send(await sendTestEvent(ctx, scope, request.params.id));
  });
}
