// A tenant's trusted networks (its offices): a contact-centre floor of 2,000 agents reaches us from
// one egress address, so per-IP budgets alone would stop a busy morning. Requests that name the
// tenant from one of its networks count against that network's larger budgets instead. Read from
// the tenant's settings and kept for a few seconds per app, so the check costs no query per request.
import { BlockList, isIPv4 } from 'node:net';
import type { Ctx } from '../../context.ts';
import { trustedNetworksOf } from '../tenants/settings.ts';
import { tenantBySlug } from '../tenants/store.ts';

const KEEP_MS = 10_000;

class TrustedNetworks {
  private readonly byTenant = new Map<string, { until: number; list: BlockList | null }>();
  constructor(private readonly ctx: Ctx) {}

  async contains(slug: string, ip: string): Promise<boolean> {
    const now = Date.now();
    let entry = this.byTenant.get(slug);
    if (!entry || entry.until < now) {
      const tenant = await tenantBySlug(this.ctx.db, slug);
      const networks = tenant ? trustedNetworksOf(tenant) : [];
      entry = { until: now + KEEP_MS, list: networks.length ? blockList(networks) : null };
      if (this.byTenant.size > 10_000) this.byTenant.clear(); // slugs come from requests: stay bounded
      this.byTenant.set(slug, entry);
    }
    const bare = ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
    return entry.list?.check(bare, isIPv4(bare) ? 'ipv4' : 'ipv6') ?? false;
  }
}

function blockList(networks: string[]): BlockList {
  const list = new BlockList();
  for (const n of networks) {
    const [address, prefix] = n.split('/') as [string, string];
    list.addSubnet(address, Number(prefix), isIPv4(address) ? 'ipv4' : 'ipv6');
  }
  return list;
}

const perApp = new WeakMap<Ctx, TrustedNetworks>();

/** Whether the request, naming this tenant, comes from one of the tenant's trusted networks. */
export function fromTrustedNetwork(ctx: Ctx, slug: string | undefined, ip: string): Promise<boolean> {
  if (!slug) return Promise.resolve(false);
  let networks = perApp.get(ctx);
  if (!networks) perApp.set(ctx, (networks = new TrustedNetworks(ctx)));
  return networks.contains(slug, ip);
}
