import { createHmac, randomBytes, randomInt, timingSafeEqual, createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';

/** 32 random bytes, base64url: reset tokens, session ids, tickets. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

// No 0/O/1/I: codes are read off a phone screen and typed by hand.
const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const CODE_ALPHABET_STRICT = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ23456789';

/** 8 characters of A–Z and 2–9 (contract §5), drawn without modulo bias. */
export function randomCode(): string {
  let out = '';
  for (let i = 0; i < 8; i++) out += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return out;
}

/** Accepts `abcd-efgh`, spaces and lower case; returns null when it cannot be a code. */
export function normalizeCode(input: string): string | null {
  const code = input.replace(/[\s-]/g, '').toUpperCase();
  if (code.length !== 8) return null;
  for (const ch of code) if (!CODE_ALPHABET_STRICT.includes(ch)) return null;
  return code;
}

export const formatCode = (code: string) => `${code.slice(0, 4)}-${code.slice(4)}`;

export type SealPurpose = 'outbox' | 'mfa' | 'oidc' | 'webhook';

export class Secrets {
  private readonly macKey: Buffer;
  private readonly encKeys: Record<SealPurpose, Buffer>;
  constructor(secret: string) {
    const ikm = Buffer.from(secret, 'utf8');
    const derive = (info: string) => Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), info, 32));
    this.macKey = derive('keyturn mac');
    // One key per kind of sealed data: a sealed outbox body can never open as a TOTP secret.
    this.encKeys = {
      outbox: derive('keyturn outbox'), mfa: derive('keyturn mfa'), oidc: derive('keyturn oidc'), webhook: derive('keyturn webhook'),
    };
  }

  /** Keyed hash of a secret; the purpose separates token kinds so one can never pass for another. */
  hash(purpose: string, value: string): string {
    return createHmac('sha256', this.macKey).update(purpose).update('\0').update(value).digest('base64url');
  }

  /** Constant-time comparison of two keyed hashes. */
  static equal(a: string, b: string): boolean {
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    return x.length === y.length && timingSafeEqual(x, y);
  }

  /**
   * AES-256-GCM: outbox bodies (a queued email may hold a reset link), short-lived cookies and
   * state, and TOTP secrets (`mfa`, bound to their account by `context` as additional data).
   */
  seal(plain: string, purpose: SealPurpose = 'outbox', context = ''): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.encKeys[purpose], iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
  }

  open(sealed: string, purpose: SealPurpose = 'outbox', context = ''): string {
    const raw = Buffer.from(sealed, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.encKeys[purpose], raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }
}
