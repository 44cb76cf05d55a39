// Authenticator apps (RFC 6238 through otpauth): SHA-1, 6 digits, 30-second steps, one step of
// drift either way. A code is identified by its time step, which the store accepts only once.
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';

const PERIOD = 30;

function totp(secret: string, issuer = '', label = ''): TOTP {
  return new TOTP({ issuer, label, algorithm: 'SHA1', digits: 6, period: PERIOD, secret: Secret.fromBase32(secret) });
}

/** A new 160-bit secret in base32: what the app stores, and what a person types when they cannot scan. */
export const newTotpSecret = (): string => new Secret({ size: 20 }).base32;

/** The otpauth:// URL the QR code carries. */
export const otpauthUrl = (secret: string, issuer: string, account: string): string => totp(secret, issuer, account).toString();

/** The secret in groups of four, easier to type. */
export const groupedSecret = (secret: string): string => secret.replace(/(.{4})/g, '$1 ').trim();

/** The time step this code belongs to (now, or one step either side), or null when it is not right. */
export function stepOfCode(secret: string, code: string, now: Date): number | null {
  const token = code.replace(/[\s-]/g, '');
  if (!/^\d{6}$/.test(token)) return null;
  const delta = totp(secret).validate({ token, timestamp: now.getTime(), window: 1 });
  return delta === null ? null : Math.floor(now.getTime() / 1000 / PERIOD) + delta;
}

/** The QR code of an otpauth URL as an SVG, rendered here: the secret never goes to a third party. */
export const qrSvg = (url: string): Promise<string> => QRCode.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
