/** How the CLI talks to people and scripts: one clear line on stderr and a meaningful exit code on failure. */
import { DomainError } from '../domain/errors.ts';

/** Exit codes scripts can rely on. */
export const ExitCode = {
  Ok: 0,
  Failure: 1,
  Usage: 2,
  NotFound: 3,
  Conflict: 4,
  Unauthorized: 5,
  Unavailable: 6,
} as const;

export class CliExit extends Error {
  constructor(readonly exitCode: number, message: string) {
    super(message);
  }
}

export function failWith(message: string, code: number = ExitCode.Failure): never {
  throw new CliExit(code, message);
}

export function exitCodeForDomain(e: DomainError): number {
  switch (e.code) {
    case 'NotFound': return ExitCode.NotFound;
    case 'VersionConflict': case 'AlreadyExists': case 'TransitionNotAllowed': case 'CancelNotAllowed': case 'UpdateNotAllowed': case 'DeleteNotAllowed': return ExitCode.Conflict;
    case 'DataDirLocked': case 'DataDirCorrupt': return ExitCode.Unavailable;
    default: return ExitCode.Usage;
  }
}

/** Turns any failure into one line on stderr and an exit code; never a stack trace for a user's mistake. */
export function reportAndExit(e: unknown): never {
  if (e instanceof CliExit) {
    process.stderr.write(`sneakernet: ${e.message}\n`);
    process.exit(e.exitCode);
  }
  if (e instanceof DomainError) {
    process.stderr.write(`sneakernet: ${e.message}\n`);
    process.exit(exitCodeForDomain(e));
  }
  const err = e as NodeJS.ErrnoException;
  if (err && (err.code === 'EADDRINUSE' || err.code === 'EACCES' || err.code === 'ENOENT')) {
    process.stderr.write(`sneakernet: ${err.message}\n`);
    process.exit(ExitCode.Unavailable);
  }
  process.stderr.write(`sneakernet: unexpected failure: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(ExitCode.Failure);
}
