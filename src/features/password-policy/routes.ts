import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { notFound } from '../../errors.ts';
import type { Ctx } from '../../platform/context.ts';
import { parse } from '../../platform/http.ts';
import { tenantBySlug } from '../tenants/store.ts';
import { policyOf } from './enforce.ts';
import { historyDepth } from './history.ts';
import { describeRules } from './policy.ts';

export async function passwordPolicyRoutes(app: FastifyInstance, { ctx }: { ctx: Ctx }) {
  app.get('/api/v1/password/policy', async (request) => {
    const { tenant: slug } = parse(z.object({ tenant: z.string().max(63).optional() }), request.query ?? {});
    const tenant = slug ? await tenantBySlug(ctx.db, slug) : undefined;
    if (slug && !tenant) throw notFound('No such tenant.');
    const settings = tenant ?? { passwordPolicy: {} };
    const policy = policyOf(settings);
    // `not_reused` is checked on the server only (it needs the account's previous passwords).
    const depth = historyDepth(settings);
    const rules = [...describeRules(policy), ...(depth > 0 ? [{ id: 'not_reused', label: depth === 1 ? 'Not your current password' : `Not one of your last ${depth} passwords`, serverOnly: true }] : [])];
    return { preset: policy.preset, rules, minLength: policy.minLength, maxLength: policy.maxLength };
  });
}
