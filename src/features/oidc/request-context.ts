// What the storage adapter may need to know of the request oidc-provider is serving: it is called
// from deep inside the library, where only the asynchronous context reaches.
import { AsyncLocalStorage } from 'node:async_hooks';

interface RequestFacts { basicAuth: boolean; }

const current = new AsyncLocalStorage<RequestFacts>();

export function withRequestFacts<T>(headers: { authorization?: string }, run: () => T): T {
  return current.run({ basicAuth: /^basic\s/i.test(headers.authorization ?? '') }, run);
}

/** True when the request authenticates its client with HTTP Basic. */
export const usesBasicAuth = () => current.getStore()?.basicAuth ?? false;
