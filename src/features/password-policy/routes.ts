import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { notFound } from '../../errors.ts';
import type { Ctx } from '../../context.ts';
import { parse } from '../../platform/http.ts';
import { common, doc } from '../../platform/openapi.ts';
import { tenantBySlug } from '../tenants/store.ts';
import { policyOf } from './enforce.ts';
import { historyDepth } from './history.ts';
import { describeRules } from './policy.ts';

const PolicyQuery = z.object({ tenant: z.string().max(63).optional() });
const PolicyView = z.object({
  preset: z.string(),
  rules: z.array(z.looseObject({ id: z.string(), label: z.string(), serverOnly: z.boolean().optional() })),
  minLength: z.number().int(), maxLength: z.number().int(),
});

export async function passwordPolicyRoutes(app: FastifyInstance, { ctx }: { ctx: Pick<Ctx, 'db'> }) {
  app.get('/api/v1/password/policy', doc({
    summary: 'The password rules of a tenant (or the defaults)', tags: ['password policy'], auth: 'none', query: PolicyQuery,
    responses: { 200: { description: 'The rules, for a live checklist.', schema: PolicyView }, ...common.invalid, ...common.notFound },
  }), async (request) => {
    const { tenant: slug } = parse(PolicyQuery, request.query ?? {});
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
