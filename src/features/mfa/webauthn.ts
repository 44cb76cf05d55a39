// Security keys and passkeys as a second factor (WebAuthn Level 2 through @simplewebauthn/server).
// The relying party is PUBLIC_URL: its host is the RP ID, its origin the only origin accepted.
// Challenges are not stored: each is a random nonce with an expiry, MACed with what it may be
// used for (registering for this account, this sign-in ticket, this reset), so one minted for one
// purpose fails every other. Sign-in tickets and reset links are single-use, which ends replays.
import {
  generateAuthenticationOptions, generateRegistrationOptions, verifyAuthenticationResponse, verifyRegistrationResponse,
  type AuthenticationResponseJSON, type AuthenticatorTransportFuture, type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON, type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Ctx } from '../../context.ts';
import { randomToken, Secrets } from '../../platform/crypto.ts';
import type { Factor } from './store.ts';

const CHALLENGE_TTL_MS = 5 * 60_000;
type Deps = Pick<Ctx, 'config' | 'secrets' | 'clock'>;

const rp = (ctx: Deps) => {
  const url = new URL(ctx.config.publicUrl);
  return { id: url.hostname, origin: url.origin };
};

const bytes = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));

function challengeFor(ctx: Deps, purpose: string): Uint8Array<ArrayBuffer> {
  const body = `${ctx.clock.now().getTime() + CHALLENGE_TTL_MS}.${randomToken(18)}`;
  return bytes(`${body}.${ctx.secrets.hash('webauthn-challenge', `${purpose}\0${body}`)}`);
}

function challengeFits(ctx: Deps, purpose: string, challenge: string): boolean {
  const [expiry, nonce, mac] = Buffer.from(challenge, 'base64url').toString('utf8').split('.');
  if (!expiry || !nonce || !mac) return false;
  return Secrets.equal(mac, ctx.secrets.hash('webauthn-challenge', `${purpose}\0${expiry}.${nonce}`))
    && Number(expiry) > ctx.clock.now().getTime();
}

const transportsOf = (f: Factor) => (f.transports ?? []) as AuthenticatorTransportFuture[];

export async function registrationOptions(
  ctx: Deps, user: { id: string; email: string; name: string }, existing: Factor[], rpName: string,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return generateRegistrationOptions({
    rpName, rpID: rp(ctx).id,
    userName: user.email, userDisplayName: user.name || user.email,
    userID: bytes(user.id),
    challenge: challengeFor(ctx, `register\0${user.id}`),
    attestationType: 'none',
    excludeCredentials: existing.filter((f) => f.credentialId).map((f) => ({ id: f.credentialId!, transports: transportsOf(f) })),
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
    timeout: CHALLENGE_TTL_MS,
  });
}

export interface NewCredential { credentialId: string; publicKey: string; signCount: number; transports: string[]; aaguid: string; }

/** The new credential, or null when the response does not verify (wrong origin, challenge, signature). */
export async function verifyRegistration(ctx: Deps, userId: string, response: RegistrationResponseJSON): Promise<NewCredential | null> {
  const { id, origin } = rp(ctx);
  try {
    const result = await verifyRegistrationResponse({
      response, expectedChallenge: (c) => challengeFits(ctx, `register\0${userId}`, c),
      expectedOrigin: origin, expectedRPID: id, requireUserVerification: false,
    });
    if (!result.verified) return null;
    const { credential, aaguid } = result.registrationInfo;
    return {
      credentialId: credential.id, publicKey: Buffer.from(credential.publicKey).toString('base64url'),
      signCount: credential.counter, transports: credential.transports ?? response.response.transports ?? [], aaguid,
    };
  } catch {
    return null; // malformed or forged: the same "not accepted" as a wrong code
  }
}

/** Options for proving one of these credentials, for one purpose (a sign-in ticket, a reset). */
export async function authenticationOptions(ctx: Deps, factors: Factor[], purpose: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return generateAuthenticationOptions({
    rpID: rp(ctx).id,
    challenge: challengeFor(ctx, `authenticate\0${purpose}`),
    allowCredentials: factors.filter((f) => f.credentialId).map((f) => ({ id: f.credentialId!, transports: transportsOf(f) })),
    userVerification: 'preferred',
    timeout: CHALLENGE_TTL_MS,
  });
}

/** The factor the assertion proved and its new counter, or null when it proves none of them. */
export async function verifyAuthentication(
  ctx: Deps, factors: Factor[], purpose: string, response: AuthenticationResponseJSON,
): Promise<{ factor: Factor; signCount: number } | null> {
  const factor = factors.find((f) => f.type === 'webauthn' && f.credentialId === response?.id);
  if (!factor) return null;
  const { id, origin } = rp(ctx);
  try {
    const result = await verifyAuthenticationResponse({
      response, expectedChallenge: (c) => challengeFits(ctx, `authenticate\0${purpose}`, c),
      expectedOrigin: origin, expectedRPID: id, requireUserVerification: false,
      credential: {
        id: factor.credentialId!, publicKey: new Uint8Array(Buffer.from(factor.publicKey!, 'base64url')),
        counter: factor.signCount ?? 0, transports: transportsOf(factor),
      },
    });
    return result.verified ? { factor, signCount: result.authenticationInfo.newCounter } : null;
  } catch {
    return null; // a counter that went backwards (a cloned key), a bad signature, a malformed response
  }
}
