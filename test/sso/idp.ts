// A real OpenID Provider for tests: oidc-provider on 127.0.0.1 (an http issuer, allowed on loopback
// only), one confidential client, PKCE required. Tests choose who "logs in" at the IdP and what the
// IdP says about them (email, email_verified, hd); the login interaction finishes by itself.
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type Configuration } from 'oidc-provider';

export interface IdpAccount { sub: string; email?: string; email_verified?: boolean | string; hd?: string; name?: string; }

export interface Idp {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Adds or replaces what the IdP says about an account. */
  account(a: IdpAccount): void;
  /** Who logs in at the next interaction; undefined = the user cancels (access_denied). */
  nextLogin: string | undefined;
  /** Follows the authorization URL through the IdP, as a browser would, to the redirect back. */
  authorize(authorizationUrl: string, stopAt: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startIdp(opts: {
  redirectUris: string[];
  /** Google puts email and hd in the ID token; many IdPs only in UserInfo. */
  claimsIn?: 'id_token' | 'userinfo';
}): Promise<Idp> {
  const accounts = new Map<string, IdpAccount>();
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'keyturn-test';
  const clientSecret = 'idp-client-secret-do-not-log-0123456789';

  const configuration: Configuration = {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: opts.redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    }],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    conformIdTokenClaims: opts.claimsIn === 'userinfo',
    claims: { openid: ['sub', 'hd'], email: ['email', 'email_verified'], profile: ['name'] },
    cookies: { keys: ['test-idp-cookie-key'] },
    jwks: { keys: [generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' })] },
    ttl: { Interaction: 600, Grant: 600, Session: 600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
    async findAccount(_ctx, sub) {
      const a = accounts.get(sub);
      if (!a) return undefined;
      return { accountId: sub, claims: async () => ({ ...a, sub }) };
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // First-party client: the grant is made on the spot, so there is no consent step.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
  };
  const provider = new Provider(issuer, configuration);
  const callback = provider.callback();

  const idp: Idp = {
    issuer, clientId, clientSecret, nextLogin: undefined,
    account(a) { accounts.set(a.sub, a); },
    async authorize(authorizationUrl, stopAt) {
      const jar = new Map<string, string>();
      let url = authorizationUrl;
      for (let hops = 0; hops < 10; hops++) {
        const res = await fetch(url, {
          redirect: 'manual',
          headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') },
        });
        for (const c of res.headers.getSetCookie()) {
          const [pair] = c.split(';');
          const eq = pair!.indexOf('=');
          jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
        }
        const location = res.headers.get('location');
        if (!location) throw new Error(`IdP answered ${res.status} without a redirect: ${await res.text()}`);
        url = new URL(location, url).href;
        if (url.startsWith(stopAt)) return url;
      }
      throw new Error('too many redirects at the IdP');
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  server.on('request', (req, res) => {
    if (req.url?.startsWith('/interaction/')) {
      void (async () => {
        await provider.interactionDetails(req, res);
        const who = idp.nextLogin;
        const result = who
          ? { login: { accountId: who } }
          : { error: 'access_denied', error_description: 'The user cancelled.' };
        await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
      })().catch((e) => { res.statusCode = 500; res.end(String(e)); });
      return;
    }
    void callback(req, res);
  });
  return idp;
}
