/**
 * Typed domain errors. Every failure the domain can report has a stable code; the API maps codes to HTTP
 * statuses in one catalogue (src/api/errors.ts), the CLI maps them to exit codes. Never throw a bare Error
 * for something a caller can get wrong.
 */
export const DomainErrorCodes = [
  'UnknownState',
  'UnknownEvent',
  'TransitionNotAllowed',
  'ActorNotAllowed',
  'GuardFailed',
  'VersionConflict',
  'NotFound',
  'AlreadyExists',
  'InvalidInput',
  'CancelNotAllowed',
  'UpdateNotAllowed',
  'DeleteNotAllowed',
  'DataDirLocked',
  'DataDirCorrupt',
] as const;
export type DomainErrorCode = (typeof DomainErrorCodes)[number];

export interface ErrorDetail {
  code: string;
  message: string;
  target?: string;
}

export class DomainError extends Error {
  readonly code: DomainErrorCode;
  readonly target?: string;
  readonly details?: ErrorDetail[];
  constructor(code: DomainErrorCode, message: string, opts: { target?: string; details?: ErrorDetail[] } = {}) {
    super(message);
    this.name = 'DomainError';
    this.code = code;
    this.target = opts.target;
    this.details = opts.details;
  }
}

export const isDomainError = (e: unknown): e is DomainError => e instanceof DomainError;
