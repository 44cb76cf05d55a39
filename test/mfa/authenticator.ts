// A software security key for API tests: an ES256 key pair made with node:crypto that answers
// WebAuthn creation and request options as a browser and an authenticator together would
// (clientDataJSON, authenticator data, a "none" attestation in CBOR, a DER ECDSA signature).
// The browser journeys use Chromium's virtual authenticator instead; this one lets the API suites
// prove a key without a browser.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';

const b64url = (b: Uint8Array) => Buffer.from(b).toString('base64url');
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest();

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_AT = 0x40;

export interface SoftKeyOptions {
  /** The page's origin the browser puts in clientDataJSON. */
  origin: string;
  /** The RP ID the authenticator hashes into its data (the browser checks it fits the origin). */
  rpId?: string;
}

export class SoftKey {
  readonly credentialId = randomBytes(32);
  private readonly privateKey: KeyObject;
  private readonly cose: Uint8Array;
  /** The signature counter; a test may set it back to act as a cloned key. */
  counter = 0;

  constructor(private readonly opts: SoftKeyOptions) {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.privateKey = pair.privateKey;
    const jwk = pair.publicKey.export({ format: 'jwk' });
    // COSE_Key: kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y.
    this.cose = isoCBOR.encode(new Map<number, number | Uint8Array>([
      [1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')],
    ]));
  }

  get id(): string { return b64url(this.credentialId); }

  private rpIdOf(options: { rp?: { id?: string }; rpId?: string }): string {
    return this.opts.rpId ?? options.rp?.id ?? options.rpId!;
  }

  private clientData(type: 'webauthn.create' | 'webauthn.get', challenge: string): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin: this.opts.origin, crossOrigin: false }));
  }

  private authData(rpId: string, flags: number, attested?: Uint8Array): Buffer {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(this.counter);
    return Buffer.concat([sha256(rpId), Buffer.from([flags]), count, ...(attested ? [attested] : [])]);
  }

  /** The registration response (what `startRegistration` returns) for creation options. */
  register(options: { challenge: string; rp: { id?: string } }) {
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(this.credentialId.length);
    const attested = Buffer.concat([Buffer.alloc(16) /* AAGUID: none */, idLength, this.credentialId, this.cose]);
    const authData = this.authData(this.rpIdOf(options), FLAG_UP | FLAG_UV | FLAG_AT, attested);
    const attestationObject = isoCBOR.encode(new Map<string, unknown>([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]]) as never);
    return {
      id: this.id, rawId: this.id, type: 'public-key',
      response: {
        clientDataJSON: b64url(this.clientData('webauthn.create', options.challenge)),
        attestationObject: b64url(attestationObject), transports: ['usb'],
      },
      clientExtensionResults: {}, authenticatorAttachment: 'cross-platform',
    };
  }

  /** The authentication response (what `startAuthentication` returns) for request options. */
  assert(options: { challenge: string; rpId?: string }) {
    this.counter += 1;
    const authData = this.authData(this.rpIdOf(options), FLAG_UP | FLAG_UV);
    const clientDataJSON = this.clientData('webauthn.get', options.challenge);
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), this.privateKey);
    return {
      id: this.id, rawId: this.id, type: 'public-key',
      response: { clientDataJSON: b64url(clientDataJSON), authenticatorData: b64url(authData), signature: b64url(signature) },
      clientExtensionResults: {}, authenticatorAttachment: 'cross-platform',
    };
  }
}
