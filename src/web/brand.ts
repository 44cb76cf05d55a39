// A tenant's branding on its pages: its name under the header, its logo instead of Keyturn's, and
// its colour through a small stylesheet of its own (/t/{slug}/brand.css) — the pages' CSP allows
// no inline style. The colour is darkened where needed so white text on it, and it as link text,
// keep WCAG AA contrast.
import type { FastifyInstance } from 'fastify';
import { accessibleShade, brandOf, hoverShade } from '../features/tenants/settings.ts';
import { tenantBySlug, type Tenant } from '../features/tenants/store.ts';
import type { Ctx } from '../context.ts';
import type { PageBrand } from './layout.ts';

/** The page() fields that show this tenant's branding. */
export function brandFor(tenant: Tenant | undefined): { context?: string; brand?: PageBrand } {
  if (!tenant) return {};
  const b = brandOf(tenant);
  return { context: b.name, brand: { slug: tenant.slug, colour: b.colour !== null, logoUrl: b.logoUrl } };
}

export async function brandRoutes(app: FastifyInstance, { ctx }: { ctx: Pick<Ctx, 'db'> }) {
  app.get<{ Params: { slug: string } }>('/t/:slug/brand.css', async (request, reply) => {
    const tenant = await tenantBySlug(ctx.db, request.params.slug);
    const colour = tenant ? brandOf(tenant).colour : null;
    reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff');
    if (!colour) return reply.status(404).send('/* no brand colour */\n');
    const shade = accessibleShade(colour);
    return reply.send(`:root { --primary: ${shade}; --primary-hover: ${hoverShade(shade)}; --focus: ${shade}; --brand-mark: ${colour}; }\n`);
  });
}
