// Signing keys of the provider: in the database, the private part sealed under SECRET_KEY (purpose
// `oidc`, bound to the key id). ES256 by default. The newest key not retired signs; every key not
// retired is published at the JWKS and verifies, so tokens signed before a rotation stay valid.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { JWK } from 'oidc-provider';
import type { Clock } from '../../platform/clock.ts';
import type { Secrets } from '../../platform/crypto.ts';
import { rowsOf, type Db } from '../../platform/db.ts';

export type SigningAlg = 'ES256' | 'RS256';

/** A key superseded this long ago is retired: no token it signed can still be alive. */
export const RETIRE_AFTER_MS = 24 * 3_600_000;

function generate(alg: SigningAlg): { kid: string; publicJwk: JWK; privateJwk: JWK } {
  const pair = alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomUUID();
  const meta = { kid, alg, use: 'sig' };
  return {
    kid,
    publicJwk: { ...(pair.publicKey.export({ format: 'jwk' }) as JWK), ...meta },
    privateJwk: { ...(pair.privateKey.export({ format: 'jwk' }) as JWK), ...meta },
  };
}

export interface KeyView { kid: string; alg: string; createdAt: string; retiredAt: string | null; signing: boolean; }

/**
 * Adds a new signing key (it signs from now on) and retires the keys superseded more than a day
 * ago. Returns the keys as they stand.
 */
export async function rotateKeys(deps: { db: Db; secrets: Secrets; clock: Clock }, alg: SigningAlg = 'ES256'): Promise<KeyView[]> {
  const key = generate(alg);
  const now = deps.clock.now();
  await deps.db.transaction(async (tx) => {
    await tx.execute(sql`insert into oidc_keys (kid, alg, public_jwk, sealed_private, created_at)
      values (${key.kid}, ${alg}, ${JSON.stringify(key.publicJwk)}::jsonb, ${deps.secrets.seal(JSON.stringify(key.privateJwk), 'oidc', key.kid)}, ${now})`);
    // A key is superseded when the next newer one was made; retire those superseded long enough ago.
    await tx.execute(sql`update oidc_keys k set retired_at = ${now}
      where retired_at is null and exists (
        select 1 from oidc_keys n where n.created_at > k.created_at and n.created_at < ${new Date(now.getTime() - RETIRE_AFTER_MS)})`);
  });
  return listKeys(deps.db);
}

export async function listKeys(db: Db): Promise<KeyView[]> {
  const rows = rowsOf<{ kid: string; alg: string; created_at: Date | string; retired_at: Date | string | null }>(
    await db.execute(sql`select kid, alg, created_at, retired_at from oidc_keys order by created_at desc, kid`));
  const signing = rows.find((r) => !r.retired_at)?.kid;
  return rows.map((r) => ({
    kid: r.kid, alg: r.alg, createdAt: new Date(r.created_at).toISOString(),
    retiredAt: r.retired_at ? new Date(r.retired_at).toISOString() : null, signing: r.kid === signing,
  }));
}

/**
 * The private JWKs, newest first (oidc-provider signs with the first key of the algorithm it
 * needs), made on first use when there is none. `version` changes whenever the set does.
 */
export async function loadSigningKeys(deps: { db: Db; secrets: Secrets; clock: Clock }): Promise<{ keys: JWK[]; version: string }> {
  const read = async () => rowsOf<{ kid: string; sealed_private: string }>(await deps.db.execute(sql`
    select kid, sealed_private from oidc_keys where retired_at is null order by created_at desc, kid`));
  let rows = await read();
  if (rows.length === 0) {
    // Two instances starting at once may both make one: harmless, the newer signs.
    await rotateKeys(deps);
    rows = await read();
  }
  return {
    keys: rows.map((r) => JSON.parse(deps.secrets.open(r.sealed_private, 'oidc', r.kid)) as JWK),
    version: rows.map((r) => r.kid).join(','),
  };
}

export async function keysVersion(db: Db): Promise<string> {
  const rows = rowsOf<{ kid: string }>(await db.execute(sql`select kid from oidc_keys where retired_at is null order by created_at desc, kid`));
  return rows.map((r) => r.kid).join(',');
}
