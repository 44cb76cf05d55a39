// A second-factor answer as the JSON API carries it: `method` with `code` (authenticator app,
// recovery code) or `response` (a WebAuthn assertion). Sign-in's second step and the reset share it.
import { z } from 'zod';
import { invalidRequest } from '../../errors.ts';
import type { Answer } from './factors.ts';

export const AnswerFields = {
  method: z.enum(['totp', 'webauthn', 'recovery_code']).optional(),
  code: z.string().min(1).max(40).optional(),
  response: z.looseObject({ id: z.string().max(2000) }).optional(),
};

/** The answer these fields make, or undefined when they carry none. 400 for half an answer. */
export function answerFrom(body: { method?: string; code?: string; response?: { id: string } }, field = ''): Answer | undefined {
  if (body.method === undefined) {
    if (body.code !== undefined || body.response !== undefined) throw invalidRequest(`${field}method: say which factor answers (totp, webauthn or recovery_code).`, { field: `${field}method` });
    return undefined;
  }
  if (body.method === 'webauthn') {
    if (!body.response) throw invalidRequest(`${field}response: send the security key's assertion (from navigator.credentials.get).`, { field: `${field}response` });
    return { method: 'webauthn', response: body.response as never };
  }
  if (!body.code) throw invalidRequest(`${field}code: send the code.`, { field: `${field}code` });
  return { method: body.method as 'totp' | 'recovery_code', code: body.code };
}
