// Single sign-on with OpenID Connect (Google Workspace or any standard issuer), per tenant:
// started → (at the IdP) → callback → signed in | refused. See README.md beside this file.
import * as oidc from 'openid-client';
import type { Ctx } from '../../context.ts';
import { Secrets } from '../../platform/crypto.ts';
import { audit } from '../audit/audit.ts';
import { canonicalEmail } from '../accounts/email.ts';
import { userByEmail, userById, type User } from '../accounts/store.ts';
import { afterFirstFactor, type SignInOutcome } from '../sign-in/signed-in.ts';
import { trustsIdpMfa } from '../tenants/settings.ts';
import type { Tenant } from '../tenants/store.ts';
import { GOOGLE_ISSUER, ssoConnection, type OidcConfigs, type OidcConnection } from './connection.ts';
import {
  consumeState, identityBySubject, identityOf, insertIdentity, insertState, purgeStates, touchIdentity,
} from './store.ts';

/** Why a sign-in was refused; the login page gets it as `?sso_error=<reason>`. */
export type SsoErrorReason =
  | 'unavailable'       // IdP down, misconfigured, or SSO not set up for this tenant
  | 'cancelled'         // the user said no at the IdP
  | 'invalid_state'     // no/foreign/replayed/expired state, nonce mismatch, code no longer valid
  | 'unverified_email'  // the IdP did not vouch for the email address
  | 'wrong_domain'      // `hd` is not the tenant's hosted domain
  | 'not_linked';       // no active account of this tenant for this identity

export class SsoRefused extends Error {
  constructor(readonly reason: SsoErrorReason, readonly detail: string, readonly failure?: unknown) {
    super(`${reason}: ${detail}`);
    this.name = 'SsoRefused';
  }
}

const STATE_TTL_MS = 10 * 60_000;
const SCOPE = 'openid email profile';

export const callbackPath = (tenant: Pick<Tenant, 'slug'>) => `/t/${tenant.slug}/sso/callback`;
export const redirectUri = (ctx: Pick<Ctx, 'config'>, tenant: Pick<Tenant, 'slug'>) => `${ctx.config.publicUrl}${callbackPath(tenant)}`;
const stateHash = (ctx: Pick<Ctx, 'secrets'>, state: string) => ctx.secrets.hash('sso-state', state);

/** Only a path on this origin; anything else (other hosts, `//x`, `/\x`, schemes) becomes `/`. */
export function safeReturnTo(publicUrl: string, raw: string | undefined): string {
  if (!raw || raw.length > 1000 || !raw.startsWith('/') || raw.startsWith('//') || /[\\\u0000-\u001f\u007f]/.test(raw)) return '/';
  const base = new URL(publicUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  let target: URL;
  try { target = new URL(`${prefix}${raw}`, base.origin); } catch { return '/'; }
  if (target.origin !== base.origin) return '/';
  if (prefix && target.pathname !== prefix && !target.pathname.startsWith(`${prefix}/`)) return '/';
  return `${target.pathname.slice(prefix.length) || '/'}${target.search}${target.hash}`;
}

async function idpConfig(configs: OidcConfigs, conn: OidcConnection, fresh = false): Promise<oidc.Configuration> {
  try {
    return await configs.get(conn, { fresh });
  } catch (e) {
    throw new SsoRefused('unavailable', 'discovery failed', e);
  }
}

// ── started ────────────────────────────────────────────────────────────────────────────────────

/**
 * Records a single-use state (PKCE verifier sealed, nonce, where to go afterwards) and returns the
 * IdP's authorization URL. The caller puts `state` in a short-lived cookie for this browser.
 */
export async function startSignIn(
  ctx: Ctx, configs: OidcConfigs, tenant: Tenant, input: { returnTo?: string },
): Promise<{ url: string; state: string; expiresAt: Date }> {
  const conn = ssoConnection(tenant);
  if (!conn) throw new SsoRefused('unavailable', 'single sign-on is not configured for this tenant');
  const config = await idpConfig(configs, conn, true);

  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const verifier = oidc.randomPKCECodeVerifier();
  const now = ctx.clock.now();
  const expiresAt = new Date(now.getTime() + STATE_TTL_MS);
  await purgeStates(ctx.db, now);
  await insertState(ctx.db, {
    stateHash: stateHash(ctx, state),
    tenantId: tenant.id,
    nonce,
    sealedVerifier: ctx.secrets.seal(verifier),
    returnTo: safeReturnTo(ctx.config.publicUrl, input.returnTo),
    createdAt: now,
    expiresAt,
  });

  const params: Record<string, string> = {
    redirect_uri: redirectUri(ctx, tenant),
    scope: SCOPE,
    state,
    nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  };
  if (new URL(conn.issuer).href === new URL(GOOGLE_ISSUER).href) {
    params.prompt = 'select_account';                  // people often have a personal and a work account
    if (conn.hostedDomain) params.hd = conn.hostedDomain; // a hint only; the `hd` claim is what is checked
  }
  return { url: oidc.buildAuthorizationUrl(config, params).href, state, expiresAt };
}

// ── callback ───────────────────────────────────────────────────────────────────────────────────

export interface CallbackInput {
  /** The raw query string the IdP sent the browser back with. */
  query: string;
  /** The state this browser's cookie holds. */
  cookieState: string | undefined;
  ip: string;
  userAgent?: string;
  /** The browser's second-step binding (sign-in/held-step.ts), used if a second step follows. */
  binding: string;
}

export interface SsoSignIn {
  /** The session, or the second step the account still owes (its tenant does not trust the IdP's). */
  outcome: SignInOutcome;
  returnTo: string;
  user: { id: string; email: string };
  linked: boolean;
}

/** Maps what openid-client threw to a reason the login page can explain. */
function refusal(e: unknown): SsoRefused {
  if (e instanceof oidc.AuthorizationResponseError) {
    return new SsoRefused(e.error === 'access_denied' ? 'cancelled' : 'unavailable', `authorization error ${e.error}`, e);
  }
  if (e instanceof oidc.ResponseBodyError) {
    // An expired or already redeemed code: this attempt is over, a new one will work.
    return new SsoRefused(e.error === 'invalid_grant' ? 'invalid_state' : 'unavailable', `token endpoint said ${e.error}`, e);
  }
  const claim = (e as { cause?: { cause?: { claim?: unknown } } }).cause?.cause?.claim;
  if (e instanceof oidc.ClientError && e.code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' && claim === 'nonce') {
    return new SsoRefused('invalid_state', 'ID token nonce does not match', e);
  }
  return new SsoRefused('unavailable', 'code exchange failed', e);
}

const isActive = (u: User) => !u.disabledAt && !u.lockedAt;

/**
 * Consumes the state, exchanges the code (PKCE, nonce), checks the claims, finds the account (by
 * subject once linked; by verified email on first use, then links), and opens a session.
 */
export async function finishSignIn(ctx: Pick<Ctx, 'clock' | 'config' | 'db' | 'secrets' | 'sessions'>, configs: OidcConfigs, tenant: Tenant, input: CallbackInput): Promise<SsoSignIn> {
  const conn = ssoConnection(tenant);
  if (!conn) throw new SsoRefused('unavailable', 'single sign-on is not configured for this tenant');

  // The state must be the one this browser started with, and unused: no login CSRF, no replay.
  const query = new URLSearchParams(input.query);
  const state = query.get('state');
  if (!state || !input.cookieState || !Secrets.equal(state, input.cookieState)) {
    throw new SsoRefused('invalid_state', input.cookieState ? 'state does not match this browser' : 'no state cookie');
  }
  const started = await consumeState(ctx.db, tenant.id, stateHash(ctx, state), ctx.clock.now());
  if (!started) throw new SsoRefused('invalid_state', 'state unknown, expired or already used');

  const config = await idpConfig(configs, conn);
  const current = new URL(redirectUri(ctx, tenant));
  current.search = query.toString();
  let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
  try {
    tokens = await oidc.authorizationCodeGrant(config, current, {
      pkceCodeVerifier: ctx.secrets.open(started.sealedVerifier),
      expectedState: state,
      expectedNonce: started.nonce,
      idTokenExpected: true,
    });
  } catch (e) {
    const refused = refusal(e);
    if (refused.reason === 'unavailable') configs.forget(conn);
    throw refused;
  }

  const idToken = tokens.claims();
  if (!idToken) throw new SsoRefused('unavailable', 'no ID token');
  let claims: Record<string, unknown> = { ...idToken };
  if (claims.email === undefined && tokens.access_token) {
    // Some issuers put email only in UserInfo; Google puts it in the ID token.
    try {
      claims = { ...(await oidc.fetchUserInfo(config, tokens.access_token, idToken.sub)), ...idToken };
    } catch (e) {
      throw refusal(e);
    }
  }
  const issuer = idToken.iss;
  const subject = idToken.sub;
  const email = typeof claims.email === 'string' ? claims.email : '';
  if (!email || (claims.email_verified !== true && claims.email_verified !== 'true')) {
    throw new SsoRefused('unverified_email', 'the IdP did not say the email is verified');
  }
  if (conn.hostedDomain && String(claims.hd ?? '').toLowerCase() !== conn.hostedDomain.toLowerCase()) {
    throw new SsoRefused('wrong_domain', `hd claim is not ${conn.hostedDomain}`);
  }

  const now = ctx.clock.now();
  const found = await ctx.db.transaction(async (tx) => {
    let user: User;
    let identityId: string;
    let linked = false;
    const link = await identityBySubject(tx, tenant.id, issuer, subject);
    const known = link && (await userById(tx, tenant.id, link.userId));
    if (link && known) {
      // Linked before: the subject decides. An email changed at the IdP cannot reach another account.
      if (!isActive(known)) throw new SsoRefused('not_linked', 'linked account is disabled or locked');
      user = known;
      identityId = link.id;
    } else {
      const byEmail = await userByEmail(tx, tenant.id, canonicalEmail(email));
      if (!byEmail || !isActive(byEmail)) throw new SsoRefused('not_linked', 'no active account with this email');
      if (await identityOf(tx, byEmail.id, issuer)) {
        // The account is linked to another subject of this IdP: an admin must unlink it first.
        throw new SsoRefused('not_linked', 'account is linked to another identity of this issuer');
      }
      const row = await insertIdentity(tx, { tenantId: tenant.id, userId: byEmail.id, issuer, subject, emailAtLink: email, createdAt: now });
      if (!row) throw new SsoRefused('not_linked', 'lost a race linking this identity');
      user = byEmail;
      identityId = row.id;
      linked = true;
      await audit(tx, { type: 'user', id: user.id, ip: input.ip }, now, {
        type: 'identity_linked', tenantId: tenant.id, userId: user.id, data: { issuer, subject, email },
      });
    }
    await touchIdentity(tx, identityId, now);
    return { user, linked };
  });
  // Google is one factor, unless the tenant trusts its IdP to have asked for a second one.
  const outcome = await afterFirstFactor(ctx, { user: found.user, tenant }, {
    email: found.user.emailCanonical, ip: input.ip, userAgent: input.userAgent, binding: input.binding,
  }, { authMethod: 'google', auditData: { method: 'google', issuer }, secondFactorDone: trustsIdpMfa(tenant) });
  return { outcome, returnTo: started.returnTo, user: { id: found.user.id, email: found.user.email }, linked: found.linked };
}
