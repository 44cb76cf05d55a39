// Keyturn as the OpenID Provider of the platform's apps: panva's oidc-provider (OpenID certified)
// does the protocol; Keyturn gives it storage (adapter.ts), accounts (findAccount), its hosted
// login as the interaction (interaction.ts), its sessions (a custom login check: an app is signed
// in only while the Keyturn session it was signed in under is live) and keys from the database.
import type { Configuration, KoaContextWithOIDC, default as Provider } from 'oidc-provider';
import { sql } from 'drizzle-orm';
import type { Ctx } from '../../context.ts';
import { esc as escapeHtml } from '../../platform/html.ts';
import { rowsOf } from '../../platform/db.ts';
import { SESSION_COOKIE } from '../sessions/sessions.ts';
import { DbAdapter, rememberJwtAccessToken, type AdapterDeps } from './adapter.ts';
import { keysVersion, loadSigningKeys } from './keys.ts';

/** Where oidc-provider's endpoints live (discovery stays at the issuer's /.well-known). */
export const OIDC_PREFIX = '/oidc';
export const INTERACTION_PATH = `${OIDC_PREFIX}/interaction`;
/** oidc-provider's own endpoints (not the interaction, which is Keyturn's page). */
export const isProviderEndpoint = (url: string) => url.startsWith(`${OIDC_PREFIX}/`) && !url.startsWith(`${INTERACTION_PATH}/`);
/** Scopes an app may ask for. */
export const SCOPES = ['openid', 'email', 'profile', 'offline_access'];
const KEY_CHECK_MS = 2_000;

/** The audience of access tokens: the platform's APIs, which verify them against the JWKS. */
export const audienceOf = (ctx: Pick<Ctx, 'config'>) => ctx.config.publicUrl;

interface AccountRow { id: string; email: string; name: string; role: string; slug: string; }

async function findAccount(ctx: Ctx, id: string) {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const [row] = rowsOf<AccountRow>(await ctx.db.execute(sql`
    select u.id, u.email, u.name, u.role, t.slug from users u join tenants t on t.id = u.tenant_id
    where u.id = ${id}::uuid and u.disabled_at is null and u.locked_at is null`));
  if (!row) return undefined;
  return {
    accountId: row.id,
    async claims() {
      return { sub: row.id, email: row.email, email_verified: true, name: row.name, tenant: row.slug, role: row.role };
    },
  };
}

/**
 * True while the Keyturn session behind this app's grant is live and is the one in this browser:
 * otherwise the person is sent through the hosted login again (or `login_required` for
 * prompt=none). oidc-provider's own session record never decides on its own.
 */
async function keyturnSessionHolds(ctx: Ctx, oidc: KoaContextWithOIDC): Promise<boolean> {
  if (oidc.oidc.result?.login) return true; // just signed in through our interaction
  const token = oidc.cookies.get(SESSION_COOKIE, { signed: false });
  const clientId = oidc.oidc.client?.clientId;
  const grantId = clientId ? oidc.oidc.session?.grantIdFor(clientId) : undefined;
  if (!token || !grantId || token.length > 100) return false;
  const browser = await ctx.sessions.read(token, 'cookie');
  if (!browser) return false;
  const rows = rowsOf(await ctx.db.execute(sql`
    select 1 from sessions where grant_id = ${grantId} and parent_id_hash = ${browser.idHash}
      and revoked_at is null and expires_at > ${ctx.clock.now()}`));
  return rows.length > 0;
}

type OidcModule = typeof import('oidc-provider');

function configuration(ctx: Ctx, keys: Configuration['jwks'], { errors, interactionPolicy }: OidcModule): Configuration {
  const deps: AdapterDeps = {
    db: ctx.db, secrets: ctx.secrets, clock: ctx.clock,
    // oidc-provider revokes a grant on refresh-token reuse and at end_session: its app session ends
    // with it (and the app hears of it), as when Keyturn ends a session.
    grantRevoked: (grantId) => ctx.db.transaction(async (tx) => { await ctx.sessions.endApps(tx, { grantId }, 'app_grant_revoked'); }),
  };
  const audience = audienceOf(ctx);
  const sessionTtl = Math.ceil(ctx.config.sessionTtlMs / 1000);
  const accessTokenTtl = Math.ceil(ctx.config.oidcAccessTokenTtlMs / 1000);
  const policy = interactionPolicy.base();
  policy.get('login')!.checks.add(new interactionPolicy.Check(
    'keyturn_session', 'The Keyturn session is not live', 'login_required', async (c) => !(await keyturnSessionHolds(ctx, c)),
  ));
  const alg = ((keys?.keys[0] as { alg?: string } | undefined)?.alg ?? 'ES256') as 'ES256' | 'RS256';
  return {
    adapter: class extends DbAdapter { constructor(name: string) { super(name, deps); } },
    jwks: keys,
    cookies: {
      keys: [ctx.secrets.hash('oidc-cookies', 'v1')],
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    // `amr` and `auth_time` in every ID token (§9): oidc-provider adds them only when a client asks,
    // unless the openid scope names them. (acr, sid, auth_time, iss: its defaults, which this replaces.)
    claims: {
      acr: null, sid: null, auth_time: null, iss: null,
      openid: ['sub', 'tenant', 'role', 'amr', 'auth_time'], email: ['email', 'email_verified'], profile: ['name'],
    },
    scopes: SCOPES,
    conformIdTokenClaims: false,
    clientDefaults: { id_token_signed_response_alg: alg, grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] },
    extraParams: ['tenant'],
    findAccount: (_c, id) => findAccount(ctx, id),
    interactions: { url: (_c, interaction) => `${INTERACTION_PATH}/${interaction.uid}`, policy },
    issueRefreshToken: async (_c, client) => client.grantTypeAllowed('refresh_token'),
    // Every use of a refresh token gives a new one; a spent one used again revokes the grant.
    rotateRefreshToken: () => true,
    // Tokens live as long as the app session they belong to (ended with it by Keyturn, not by
    // oidc-provider's own session record).
    expiresWithSession: async () => false,
    pkce: { required: (_c, client) => client.clientAuthMethod === 'none' },
    // A browser app (public, or calling userinfo) may call from the origin of one of its redirect URIs.
    clientBasedCORS: (c, origin, client) => origin !== 'null' && (c.oidc.route === 'userinfo' || client.clientAuthMethod === 'none')
      && client.redirectUris!.some((uri) => URL.canParse(uri) && new URL(uri).origin === origin),
    routes: {
      authorization: `${OIDC_PREFIX}/auth`, token: `${OIDC_PREFIX}/token`, jwks: `${OIDC_PREFIX}/jwks`,
      userinfo: `${OIDC_PREFIX}/me`, introspection: `${OIDC_PREFIX}/token/introspection`,
      revocation: `${OIDC_PREFIX}/token/revocation`, end_session: `${OIDC_PREFIX}/session/end`,
    },
    ttl: {
      AccessToken: accessTokenTtl, AuthorizationCode: 60, IdToken: 3600, Interaction: 600,
      Grant: sessionTtl, Session: sessionTtl, RefreshToken: sessionTtl,
    },
    // Keyturn sends back-channel logouts itself (logout.ts), so it says so though oidc-provider's own sender is off.
    discovery: { backchannel_logout_supported: true, backchannel_logout_session_supported: true } as unknown as Configuration['discovery'],
    features: {
      devInteractions: { enabled: false },
      // A client introspects its own tokens (refresh tokens: JWTs are verified offline).
      introspection: { enabled: true, allowedPolicy: async (_c, client, token) => token.clientId === client.clientId },
      // A client revokes its own tokens.
      revocation: { enabled: true, allowedPolicy: async (_c, client, token) => token.clientId === client.clientId },
      userinfo: { enabled: true },
      // Back-channel logout goes through Keyturn's outbox (logout.ts), not oidc-provider's sender.
      backchannelLogout: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (c, form) => {
          c.type = 'html';
          c.body = page('Sign out', `<h1>Sign out?</h1><p>You will be signed out of Keyturn and of the apps you used with it.</p>${form}
<p><button class="btn btn-primary" type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button></p>`);
        },
        postLogoutSuccessSource: async (c) => {
          c.type = 'html';
          c.body = page('Signed out', '<h1>You are signed out</h1><p><a href="/login">Sign in again</a></p>');
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_c, resource) => {
          if (resource !== audience) throw new errors.InvalidTarget();
          return {
            scope: 'openid email profile',
            audience,
            accessTokenTTL: accessTokenTtl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg } },
          };
        },
      },
    },
    formats: {
      customizers: {
        async jwt(_c, token, jwt) {
          // Kept so that introspection and userinfo know it (adapter.ts); stored without `aud`
          // and `format`, as oidc-provider stores its opaque tokens.
          const stored: Record<string, unknown> = {};
          for (const field of (token.constructor as unknown as { IN_PAYLOAD: string[] }).IN_PAYLOAD) {
            const value = (token as unknown as Record<string, unknown>)[field];
            if (value !== undefined && field !== 'aud' && field !== 'format') stored[field] = value;
          }
          Object.assign(stored, { iat: jwt.payload.iat, exp: jwt.payload.exp, jti: jwt.payload.jti });
          await rememberJwtAccessToken(deps, String(jwt.payload.jti), stored as never, Number(jwt.payload.exp) - Number(jwt.payload.iat));
          const account = await findAccount(ctx, String(jwt.payload.sub));
          if (account) {
            const claims = await account.claims();
            Object.assign(jwt.payload, { tenant: claims.tenant, role: claims.role });
          }
        },
      },
    },
    renderError: async (c, out) => {
      c.type = 'html';
      c.body = page('Sign-in failed', `<h1>This app could not sign you in</h1><p>${escapeHtml(String(out.error_description ?? out.error))}</p>`);
    },
  };
}

/** A minimal page in Keyturn's look for oidc-provider's own screens. */
export function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Keyturn</title><link rel="stylesheet" href="/assets/app.css"></head>
<body><main class="card">${body}</main></body></html>`;
}

/**
 * The provider, rebuilt when the signing keys change (`keyturn keys rotate` on any instance is
 * picked up within seconds): oidc-provider holds its keys from construction.
 */
export class OidcProvider {
  private current?: Promise<{ provider: Provider; version: string }>;
  private checkedAt = 0;

  constructor(private readonly ctx: Ctx) {}

  async get(): Promise<Provider> {
    const now = Date.now();
    if (this.current && now - this.checkedAt > KEY_CHECK_MS) {
      this.checkedAt = now;
      const { version } = await this.current;
      if (version !== await keysVersion(this.ctx.db)) this.current = undefined;
    }
    this.current ??= this.build();
    this.checkedAt ||= now;
    try {
      return (await this.current).provider;
    } catch (e) {
      this.current = undefined;
      throw e;
    }
  }

  private async endBrowserSession(token: string | undefined): Promise<void> {
    const session = token ? await this.ctx.sessions.read(token, 'cookie') : null;
    if (session) await this.ctx.db.transaction((tx) => this.ctx.sessions.end(tx, session));
  }

  private async build() {
    const { keys, version } = await loadSigningKeys(this.ctx);
    const oidc = await loadOidcProvider();
    const provider = new oidc.default(this.ctx.config.publicUrl, configuration(this.ctx, { keys }, oidc));
    provider.proxy = this.ctx.config.trustedProxies.length > 0;
    // Every ID token carries `sid` (CONTRACT §9), the one its back-channel logout token names:
    // oidc-provider adds it only for clients of its own back-channel sender, which is off.
    (provider.Client.prototype as unknown as { includeSid(): boolean }).includeSid = () => true;
    provider.on('server_error', (_c, err) => this.ctx.log.error({ err }, 'openid provider error'));
    provider.use(async (c, next) => {
      await next();
      // end_session confirmed: the Keyturn session in this browser ends too, and with it every
      // app signed in under it (one session, not two that drift).
      if (c.oidc?.route === 'end_session_confirm' && c.status < 400) {
        await this.endBrowserSession(c.cookies.get(SESSION_COOKIE, { signed: false }));
        c.cookies.set(SESSION_COOKIE, null, { path: '/', httpOnly: true, sameSite: 'lax', signed: false });
      }
    });
    return { provider, version };
  }
}

/**
 * oidc-provider, loaded when the first app request comes (the CLI and most tests never pay for
 * it). On import it warns that Node.js 20 is older than it would like; it runs and is tested on
 * 20, which Keyturn supports, so that one line is not passed on to the operator.
 */
async function loadOidcProvider(): Promise<OidcModule> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING: Unsupported runtime')) return;
    warn(...args);
  };
  try {
    return await import('oidc-provider');
  } finally {
    console.warn = warn;
  }
}
