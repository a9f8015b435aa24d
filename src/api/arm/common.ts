/** Small helpers the ARM route files share: the caller, the job key from the path, the JSON content type. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { assertCanRead, isAdmin, principalOf, type Principal } from '../auth.ts';
import type { JobKey } from '../../store/store.ts';
import { ApiError, ApiErrorCode } from '../errors.ts';
import { TokenRole } from '../../store/tokens.ts';

export interface JobPath {
  subscriptionId: string;
  resourceGroupName: string;
  jobName: string;
}

/**
 * The subscription the caller may act in. Another subscription is "not found" (never "forbidden"), so a token
 * cannot learn which subscriptions or jobs exist. Subscription ids are case-insensitive; the token's spelling is
 * the one stored.
 */
export function subscriptionFor(p: Principal, fromPath: string, what = 'The resource'): string {
  assertCanRead(p, fromPath, what);
  return p.subscriptionId ?? fromPath;
}

export function jobKey(req: FastifyRequest, what?: string): { principal: Principal; key: JobKey } {
  const principal = principalOf(req);
  const params = req.params as JobPath;
  const label = what ?? `The job '${params.jobName}' in resource group '${params.resourceGroupName}'`;
  return {
    principal,
    key: { subscriptionId: subscriptionFor(principal, params.subscriptionId, label), resourceGroup: params.resourceGroupName, name: params.jobName },
  };
}

export function assertOwner(p: Principal): void {
  if (isAdmin(p) || p.role === TokenRole.Owner) return;
  throw new ApiError(403, ApiErrorCode.AuthorizationFailed, `The '${p.role}' role cannot change jobs; an 'owner' token is needed.`);
}

/** BitLocker keys: owners (and admins) only; readers and operators never see them on the customer API. */
export function assertMayReadKeys(p: Principal): void {
  if (isAdmin(p) || p.role === TokenRole.Owner) return;
  throw new ApiError(403, ApiErrorCode.AuthorizationFailed, `The '${p.role}' role cannot list BitLocker keys; an 'owner' token is needed.`);
}

/** ARM responses say they are not to be cached. */
export function armHeaders(reply: FastifyReply): FastifyReply {
  return reply.header('pragma', 'no-cache').header('expires', '-1');
}
