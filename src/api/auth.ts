/**
 * Bearer tokens on every route but the health probes and the console's static files. A principal is what a
 * handler may rely on: which subscription the caller may see, and its role.
 */
import crypto from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, ApiErrorCode, forbidden, notFound } from './errors.ts';
import { TokenRole, type TokenInfo, type TokenStore } from '../store/tokens.ts';

export interface Principal {
  tokenId: string;
  /** null for admins: all subscriptions. */
  subscriptionId: string | null;
  role: TokenRole;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** Routes that need no token (health probes, console assets). */
    public?: boolean;
  }
}

function toPrincipal(info: TokenInfo | null): Principal {
  if (!info) throw new ApiError(401, ApiErrorCode.InvalidAuthenticationToken, 'The access token is invalid or revoked.');
  return { tokenId: info.id, subscriptionId: info.subscriptionId, role: info.role };
}

export function registerAuth(app: FastifyInstance, tokens: TokenStore, bootstrapToken: string | undefined): void {
  const bootstrap = bootstrapToken ? Buffer.from(bootstrapToken) : null;
  /** Constant-time for tokens of the bootstrap token's length (its length is no secret: tokens are random). */
  const isBootstrap = (token: string) => {
    if (!bootstrap || Buffer.byteLength(token) !== bootstrap.length) return false;
    return crypto.timingSafeEqual(Buffer.from(token), bootstrap);
  };
  /** The principal for a bearer header, or a promise of it when the token is not in the verified-token cache. */
  const authenticate = (header: string | undefined): Principal | Promise<Principal> => {
    if (!header) {
      throw new ApiError(401, ApiErrorCode.AuthenticationFailed, "Authentication failed. The 'Authorization' header is missing.");
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new ApiError(401, ApiErrorCode.InvalidAuthenticationToken, "The 'Authorization' header must be 'Bearer <token>'.");
    const token = m[1];
    if (isBootstrap(token)) {
      return { tokenId: 'bootstrap', subscriptionId: null, role: TokenRole.Admin };
    }
    const cached = tokens.verifiedRecently(token);
    return cached ? toPrincipal(cached) : tokens.verify(token).then(toPrincipal);
  };
  // Callback-style: a token verified in the last seconds costs no promise and no extra microtask.
  app.addHook('onRequest', (req, _reply, done) => {
    if (req.routeOptions.config?.public) return done();
    let result: Principal | Promise<Principal>;
    try {
      result = authenticate(req.headers.authorization);
    } catch (e) {
      return done(e as Error);
    }
    if (!(result instanceof Promise)) {
      req.principal = result;
      return done();
    }
    result.then((p) => {
      req.principal = p;
      done();
    }, (e: Error) => done(e));
  });
}

export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new ApiError(401, ApiErrorCode.AuthenticationFailed, 'Authentication failed.');
  return req.principal;
}

export const isAdmin = (p: Principal) => p.role === TokenRole.Admin;

/**
 * The caller may read this subscription's resources. Another subscription is reported as not found (404), never
 * as forbidden, so a token cannot probe which jobs exist elsewhere.
 */
export function assertCanRead(p: Principal, subscriptionId: string, what = 'The resource'): void {
  if (isAdmin(p)) return;
  if (p.subscriptionId === null || p.subscriptionId.toLowerCase() !== subscriptionId.toLowerCase()) throw notFound(what);
}

/** Writes need the owner role within the subscription (admins may do anything). */
export function assertCanWrite(p: Principal, subscriptionId: string, what = 'The resource'): void {
  assertCanRead(p, subscriptionId, what);
  if (isAdmin(p) || p.role === TokenRole.Owner) return;
  throw forbidden(`The '${p.role}' role cannot change resources; an 'owner' token is needed.`);
}

export function assertRole(p: Principal, ...roles: TokenRole[]): void {
  if (isAdmin(p) || roles.includes(p.role)) return;
  throw forbidden(`This operation needs one of the roles: ${roles.join(', ')}.`);
}
