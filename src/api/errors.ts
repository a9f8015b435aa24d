/**
 * The error catalogue: one place that turns domain errors and request problems into HTTP statuses and ARM error
 * bodies `{"error":{"code","message","target"?,"details"?}}`. Codes are stable; clients (and the Azure SDK's
 * RestError.code) rely on them.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, type DomainErrorCode, type ErrorDetail } from '../domain/errors.ts';

export const ApiErrorCode = {
  InvalidRequestContent: 'InvalidRequestContent',
  InvalidApiVersionParameter: 'InvalidApiVersionParameter',
  MissingApiVersionParameter: 'MissingApiVersionParameter',
  InvalidResourceName: 'InvalidResourceName',
  InvalidResourceGroupName: 'InvalidResourceGroupName',
  InvalidSubscriptionId: 'InvalidSubscriptionId',
  InvalidQueryParameter: 'InvalidQueryParameter',
  AuthenticationFailed: 'AuthenticationFailed',
  InvalidAuthenticationToken: 'InvalidAuthenticationToken',
  AuthorizationFailed: 'AuthorizationFailed',
  ResourceNotFound: 'ResourceNotFound',
  NotFound: 'NotFound',
  MethodNotAllowed: 'MethodNotAllowed',
  Conflict: 'Conflict',
  PreconditionFailed: 'PreconditionFailed',
  RequestEntityTooLarge: 'RequestEntityTooLarge',
  UnsupportedMediaType: 'UnsupportedMediaType',
  InternalServerError: 'InternalServerError',
  ServiceUnavailable: 'ServiceUnavailable',
} as const;

/** Domain codes → (HTTP status, ARM code). */
const DOMAIN: Record<DomainErrorCode, [number, string]> = {
  UnknownState: [400, 'InvalidJobState'],
  UnknownEvent: [400, 'InvalidRequestContent'],
  TransitionNotAllowed: [409, 'InvalidStateTransition'],
  ActorNotAllowed: [403, 'AuthorizationFailed'],
  GuardFailed: [400, 'TransitionPreconditionNotMet'],
  VersionConflict: [412, 'PreconditionFailed'],
  NotFound: [404, 'ResourceNotFound'],
  AlreadyExists: [409, 'Conflict'],
  InvalidInput: [400, 'InvalidRequestContent'],
  CancelNotAllowed: [409, 'CancelNotAllowed'],
  UpdateNotAllowed: [409, 'UpdateNotAllowedInState'],
  DeleteNotAllowed: [409, 'DeleteNotAllowedInState'],
  DataDirLocked: [503, 'ServiceUnavailable'],
  DataDirCorrupt: [503, 'ServiceUnavailable'],
};

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly target?: string,
    readonly details?: ErrorDetail[],
  ) {
    super(message);
  }
}

export const badRequest = (message: string, target?: string, details?: ErrorDetail[]) =>
  new ApiError(400, ApiErrorCode.InvalidRequestContent, message, target, details);
export const notFound = (what = 'The resource') =>
  new ApiError(404, ApiErrorCode.ResourceNotFound, `${what} was not found.`);
export const forbidden = (message = 'The token does not allow this operation.') =>
  new ApiError(403, ApiErrorCode.AuthorizationFailed, message);

export function errorBody(code: string, message: string, target?: string, details?: ErrorDetail[]) {
  const error: Record<string, unknown> = { code, message };
  if (target) error.target = target;
  if (details && details.length > 0) error.details = details;
  return { error };
}

export function toHttpError(e: unknown): { status: number; body: ReturnType<typeof errorBody> } {
  if (e instanceof ApiError) return { status: e.statusCode, body: errorBody(e.code, e.message, e.target, e.details) };
  if (e instanceof DomainError) {
    const [status, code] = DOMAIN[e.code];
    return { status, body: errorBody(code, e.message, e.target, e.details) };
  }
  const fe = e as FastifyError;
  if (fe && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code =
      fe.statusCode === 413 ? ApiErrorCode.RequestEntityTooLarge
      : fe.statusCode === 415 ? ApiErrorCode.UnsupportedMediaType
      : fe.statusCode === 404 ? ApiErrorCode.NotFound
      : fe.statusCode === 405 ? ApiErrorCode.MethodNotAllowed
      : ApiErrorCode.InvalidRequestContent;
    const message = fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe.name === 'SyntaxError' ? 'The request body is not valid JSON.' : fe.message;
    return { status: fe.statusCode, body: errorBody(code, message, fe.validation ? 'body' : undefined) };
  }
  return { status: 500, body: errorBody(ApiErrorCode.InternalServerError, 'The server failed to process the request.') };
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const { status, body } = toHttpError(err);
    if (status >= 500) req.log.error({ err }, 'request failed');
    void reply.code(status).type('application/json').send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(errorBody(ApiErrorCode.NotFound, `No route for ${req.method} ${req.url.split('?')[0]}.`));
  });
}
