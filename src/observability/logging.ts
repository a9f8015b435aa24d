/**
 * Structured JSON logs (pino through Fastify). Secrets never reach a log line: tokens, BitLocker keys, storage
 * keys and connection strings are redacted wherever they appear in a logged object.
 */
import type { FastifyServerOptions } from 'fastify';

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  '*.bitLockerKey',
  '*.*.bitLockerKey',
  '*.connectionString',
  '*.accountKey',
  '*.token',
  '*.password',
  '*.secret',
];

export function loggerOptions(level = process.env.SNEAKERNET_LOG ?? 'info'): FastifyServerOptions['logger'] {
  if (level === 'silent') return false;
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { service: 'sneakernet', pid: process.pid },
  };
}
