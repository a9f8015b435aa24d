/**
 * Readiness of the blob backends: each registered storage account must answer. A local folder must exist (or be
 * creatable) and be writable; an Azure account must answer a HEAD of a probe blob (404 is an answer; a network or
 * auth error is not). Results are cached briefly so frequent probes do not hammer a remote store. Messages name the
 * account, never its connection string.
 */
import { constants as fsConstants } from 'node:fs';
import * as fsp from 'node:fs/promises';
import type { Store } from '../store/store.ts';
import { StorageAccounts } from './registry.ts';

export interface BackendProbe {
  accountId: string;
  backend: string;
  ok: boolean;
  error?: string;
}

const PROBE_CONTAINER = 'waimportexport';
const PROBE_BLOB = '.sneakernet-readyz';

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => { t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms); })]);
  } finally {
    clearTimeout(t);
  }
}

export async function probeBlobBackends(store: Store, timeoutMs = 3000): Promise<BackendProbe[]> {
  const accounts = new StorageAccounts(store);
  const out: BackendProbe[] = [];
  for (const a of await accounts.list()) {
    try {
      if (a.backend === 'local') {
        await withTimeout((async () => {
          await fsp.mkdir(a.location, { recursive: true });
          await fsp.access(a.location, fsConstants.W_OK);
        })(), timeoutMs);
      } else {
        const backend = await accounts.backendFor(a.accountId === '*' ? '/subscriptions/x/resourceGroups/x/providers/Microsoft.Storage/storageAccounts/readyz' : a.accountId);
        await withTimeout(backend.exists(PROBE_CONTAINER, PROBE_BLOB), timeoutMs);
      }
      out.push({ accountId: a.accountId, backend: a.backend, ok: true });
    } catch (e) {
      const err = e as { code?: string; message?: string };
      out.push({ accountId: a.accountId, backend: a.backend, ok: false, error: (err.code ?? err.message ?? 'unreachable').slice(0, 200) });
    }
  }
  return out;
}

/** `probeBlobBackends`, remembered for `ttlMs` while the set of registered accounts stays the same. */
export function cachedBlobProbe(ttlMs = 5000): (store: Store) => Promise<BackendProbe[]> {
  let last: { at: number; key: string; result: Promise<BackendProbe[]> } | null = null;
  return async (store) => {
    const key = JSON.stringify((await new StorageAccounts(store).list()).map((a) => [a.id, a.accountId, a.backend, a.location]));
    if (!last || last.key !== key || Date.now() - last.at > ttlMs) last = { at: Date.now(), key, result: probeBlobBackends(store) };
    const result = await last.result;
    // Only good news is remembered: a backend that comes back is seen at the next probe.
    if (result.some((b) => !b.ok)) last = null;
    return result;
  };
}
