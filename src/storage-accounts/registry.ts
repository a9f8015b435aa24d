/**
 * Storage account registry: maps a job's `storageAccountId` (an ARM resource id) to a configured blob backend.
 * Stored in the `storage_accounts` table; secrets (Azure connection strings) are sealed with the store's
 * SecretBox and never leave this module except to build a backend. `describe` is what lists and logs may show.
 *
 * Matching: the exact resource id (case-insensitive), else an entry registered under the account's bare name
 * (the last segment of the id), else the catch-all entry `*` (handy for the embedded default: one local folder
 * per account name). Nothing matching → `UnknownStorageAccountError`, and the worker faults the job.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { sql } from 'kysely';
import { AzureBlobBackend, LocalFolderBackend, type BlobBackend } from '../blob/index.ts';
import type { Store } from '../store/store.ts';

export type StorageBackendKind = 'local' | 'azure';

export type StorageAccountInput =
  | { accountId: string; backend: 'local'; rootDir: string }
  | { accountId: string; backend: 'azure'; connectionString: string };

/** A registered account as lists show it: never a secret. */
export interface StorageAccountView {
  id: string;
  accountId: string;
  backend: StorageBackendKind;
  /** local: the folder; azure: the blob endpoint (or account name) parsed from the connection string. */
  location: string;
  createdAt: Date;
}

interface StoredConfig {
  rootDir?: string;
  /** Sealed connection string. */
  connectionStringCipher?: string;
  /** Non-secret: shown in lists. */
  endpoint?: string;
}

export class UnknownStorageAccountError extends Error {
  constructor(readonly storageAccountId: string | null) {
    super(
      storageAccountId
        ? `Storage account '${storageAccountId}' is not configured on this service. An operator can add it with ` +
          `\`sneakernet storage add '${storageAccountId}' --local <dir>\` (or --azure-connection-string-env <VAR>) and then unfault the job.`
        : 'The job names no storage account. An operator must fix the job before its drives can be copied.',
    );
    this.name = 'UnknownStorageAccountError';
  }
}

/** The account name of an ARM storage account id ("/subscriptions/…/storageAccounts/acct" → "acct"). */
export function accountNameOf(storageAccountId: string): string {
  const m = /\/storageAccounts\/([^/]+)\/?$/i.exec(storageAccountId);
  return (m ? m[1] : storageAccountId).toLowerCase();
}

/** Endpoint or account name from a connection string, without the key. */
export function describeConnectionString(cs: string): string {
  const parts = new Map(cs.split(';').filter(Boolean).map((kv) => {
    const i = kv.indexOf('=');
    return [kv.slice(0, i).trim().toLowerCase(), kv.slice(i + 1).trim()] as [string, string];
  }));
  return parts.get('blobendpoint') ?? (parts.get('accountname') ? `https://${parts.get('accountname')}.blob.${parts.get('endpointsuffix') ?? 'core.windows.net'}` : '(connection string)');
}

export class StorageAccounts {
  private readonly cache = new Map<string, BlobBackend>();

  constructor(private readonly store: Store) {}

  async add(input: StorageAccountInput): Promise<StorageAccountView> {
    const accountId = input.accountId.trim();
    if (accountId === '') throw new RangeError('The account id is empty.');
    let config: StoredConfig;
    if (input.backend === 'local') {
      if (!input.rootDir) throw new RangeError('--local needs a folder.');
      config = { rootDir: path.resolve(input.rootDir) };
    } else {
      if (!/AccountKey=|SharedAccessSignature=|BlobEndpoint=/i.test(input.connectionString)) {
        throw new RangeError('That does not look like an Azure Storage connection string.');
      }
      // Parse once so a malformed string is refused now, not at the first copy.
      new AzureBlobBackend(input.connectionString);
      const box = await this.store.secrets();
      config = { connectionStringCipher: box.seal(input.connectionString), endpoint: describeConnectionString(input.connectionString) };
    }
    const id = crypto.randomUUID();
    const now = this.store.clock.now();
    await this.store.db
      .insertInto('storage_accounts')
      .values({ id, account_id: accountId, backend: input.backend, config: JSON.stringify(config), created_at: now })
      .onConflict((oc) => oc.expression(sql`lower(account_id)`).doUpdateSet({ backend: input.backend, config: JSON.stringify(config) }))
      .execute();
    this.cache.clear();
    return (await this.list()).find((a) => a.accountId.toLowerCase() === accountId.toLowerCase())!;
  }

  async list(): Promise<StorageAccountView[]> {
    const rows = await this.store.db.selectFrom('storage_accounts').selectAll().orderBy('account_id').execute();
    return rows.map((r) => {
      const c = (typeof r.config === 'string' ? JSON.parse(r.config) : r.config) as StoredConfig;
      return {
        id: r.id, accountId: r.account_id, backend: r.backend as StorageBackendKind,
        location: r.backend === 'local' ? (c.rootDir ?? '') : (c.endpoint ?? ''), createdAt: new Date(r.created_at),
      };
    });
  }

  async remove(accountId: string): Promise<boolean> {
    const r = await this.store.db.deleteFrom('storage_accounts').where(sql`lower(account_id)`, '=', accountId.trim().toLowerCase()).executeTakeFirst();
    this.cache.clear();
    return Number(r.numDeletedRows) > 0;
  }

  /** The backend for a job's storage account; throws UnknownStorageAccountError. */
  async backendFor(storageAccountId: string | null): Promise<BlobBackend> {
    if (!storageAccountId) throw new UnknownStorageAccountError(storageAccountId);
    const wanted = [storageAccountId.toLowerCase(), accountNameOf(storageAccountId), '*'];
    const rows = await this.store.db.selectFrom('storage_accounts').selectAll().where(sql`lower(account_id)`, 'in', wanted).execute();
    const row = wanted.map((w) => rows.find((r) => r.account_id.toLowerCase() === w)).find(Boolean);
    if (!row) throw new UnknownStorageAccountError(storageAccountId);
    const c = (typeof row.config === 'string' ? JSON.parse(row.config) : row.config) as StoredConfig;
    // The catch-all maps each account to its own sub-folder, so two accounts never share blobs.
    const key = `${row.id}:${row.account_id === '*' ? accountNameOf(storageAccountId) : ''}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    let backend: BlobBackend;
    if (row.backend === 'local') {
      backend = new LocalFolderBackend(row.account_id === '*' ? path.join(c.rootDir!, accountNameOf(storageAccountId)) : c.rootDir!);
    } else if (row.backend === 'azure') {
      const box = await this.store.secrets();
      backend = new AzureBlobBackend(box.open(c.connectionStringCipher!));
    } else {
      throw new Error(`Storage account '${row.account_id}' has an unknown backend '${row.backend}'.`);
    }
    this.cache.set(key, backend);
    return backend;
  }
}
