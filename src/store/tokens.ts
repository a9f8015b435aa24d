/** Bearer tokens: random, stored only as SHA-256 hashes, scoped to one subscription with a role. */
import crypto from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Schema } from './schema.ts';
import { hashToken } from './secrets.ts';
import type { Clock } from '../domain/clock.ts';

export const TokenRole = { Owner: 'owner', Reader: 'reader', Operator: 'operator', Admin: 'admin' } as const;
export type TokenRole = (typeof TokenRole)[keyof typeof TokenRole];
export const TOKEN_ROLES: readonly TokenRole[] = Object.values(TokenRole);

export interface TokenInfo {
  id: string;
  subscriptionId: string | null;
  role: TokenRole;
  label: string | null;
  createdAt: Date;
  revokedAt: Date | null;
}

/**
 * Verified tokens are remembered this long, so a request costs no token query. A revocation takes effect at once
 * in the process that revokes, and within this time in other processes.
 */
export const TOKEN_CACHE_MS = 2_000;
const TOKEN_CACHE_MAX = 10_000;

export class TokenStore {
  /**
   * Keyed by the token text itself, in this process's memory only (as every request carrying it is): hashing it on
   * each request cost more CPU than the rest of a cached Get Job. Never stored, logged or sent anywhere.
   */
  private readonly verified = new Map<string, { info: TokenInfo; until: number }>();

  constructor(private readonly db: Kysely<Schema>, private readonly clock: Clock) {}

  /** Returns the token text once; only its hash is kept. */
  async create(subscriptionId: string | null, role: TokenRole, label: string | null = null): Promise<{ token: string; info: TokenInfo }> {
    const id = crypto.randomUUID();
    const token = `snk_${crypto.randomBytes(32).toString('base64url')}`;
    const now = this.clock.now();
    await this.db.insertInto('tokens').values({ id, token_hash: hashToken(token), subscription_id: subscriptionId, role, label, created_at: now }).execute();
    return { token, info: { id, subscriptionId, role, label, createdAt: now, revokedAt: null } };
  }

  /** The token's info if it was verified within TOKEN_CACHE_MS (no query), else undefined: call `verify`. */
  verifiedRecently(token: string): TokenInfo | undefined {
    const cached = this.verified.get(token);
    return cached && cached.until > Date.now() ? cached.info : undefined;
  }

  async verify(token: string): Promise<TokenInfo | null> {
    const cached = this.verified.get(token);
    const now = Date.now();
    if (cached && cached.until > now) return cached.info;
    const row = await this.db.selectFrom('tokens').selectAll().where('token_hash', '=', hashToken(token)).where('revoked_at', 'is', null).executeTakeFirst();
    if (!row) {
      this.verified.delete(token);
      return null;
    }
    const info = toInfo(row);
    if (this.verified.size >= TOKEN_CACHE_MAX) this.verified.clear();
    this.verified.set(token, { info, until: now + TOKEN_CACHE_MS });
    return info;
  }

  async list(): Promise<TokenInfo[]> {
    const rows = await this.db.selectFrom('tokens').selectAll().orderBy('created_at').execute();
    return rows.map(toInfo);
  }

  async revoke(id: string): Promise<boolean> {
    const r = await this.db.updateTable('tokens').set({ revoked_at: this.clock.now() }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    this.verified.clear();
    return Number(r.numUpdatedRows) > 0;
  }
}

function toInfo(r: { id: string; subscription_id: string | null; role: string; label: string | null; created_at: Date | string; revoked_at: Date | string | null }): TokenInfo {
  return {
    id: r.id,
    subscriptionId: r.subscription_id,
    role: r.role as TokenRole,
    label: r.label,
    createdAt: new Date(r.created_at),
    revokedAt: r.revoked_at ? new Date(r.revoked_at) : null,
  };
}
