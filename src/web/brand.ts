// A tenant's brand on its pages: its logo or name instead of Keyturn's wordmark, and its colour
// through a small stylesheet of its own (/t/{slug}/brand.css) — the pages' CSP allows no inline
// style. The colour is darkened where needed so white text on it, and it as link text, keep WCAG
// AA contrast; it becomes the focus colour only when it cannot be taken for the error red.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { accessibleShade, brandOf, focusShade, hoverShade, logoOrigin } from '../features/tenants/settings.ts';
import { SLUG, tenantBySlug, type Tenant } from '../features/tenants/store.ts';
import type { Ctx } from '../context.ts';
import type { PageBrand } from './layout.ts';
import { queryField } from './respond.ts';

/** The page() field that shows this tenant's brand (none: Keyturn's). */
export function brandFor(tenant: Tenant | undefined): { brand?: PageBrand } {
  if (!tenant) return {};
  const b = brandOf(tenant);
  return { brand: { slug: tenant.slug, name: b.name, colour: b.colour !== null, logoUrl: b.logoUrl, logoOrigin: logoOrigin(b) } };
}

/** The brand of the tenant with this slug, for pages that know only the slug (an unknown one: Keyturn's). */
export async function brandOfSlug(ctx: Pick<Ctx, 'db'>, slug: string | undefined): Promise<{ brand?: PageBrand }> {
  return slug && SLUG.test(slug) ? brandFor(await tenantBySlug(ctx.db, slug)) : {};
}

/**
 * The brand of the tenant an emailed link names in `?tenant=`: it dresses the page and picks its
 * sign-in link; the link's token alone decides whose account it is.
 */
export function brandOfLink(ctx: Pick<Ctx, 'db'>, request: FastifyRequest): Promise<{ brand?: PageBrand }> {
  return brandOfSlug(ctx, queryField(request, 'tenant'));
}

export async function brandRoutes(app: FastifyInstance, { ctx }: { ctx: Pick<Ctx, 'db'> }) {
  app.get<{ Params: { slug: string } }>('/t/:slug/brand.css', async (request, reply) => {
    const tenant = await tenantBySlug(ctx.db, request.params.slug);
    const colour = tenant ? brandOf(tenant).colour : null;
    reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff');
    if (!colour) return reply.status(404).send('/* no brand colour */\n');
    const shade = accessibleShade(colour);
    // Near the error red, focus rings go neutral (the text colour) rather than red.
    const focus = focusShade(shade) ?? 'var(--text)';
    return reply.send(`:root { --primary: ${shade}; --primary-hover: ${hoverShade(shade)}; --focus: ${focus}; --brand-mark: ${colour}; --brand-text: ${shade}; }\n`);
  });
}
