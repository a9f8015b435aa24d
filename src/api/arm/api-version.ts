/**
 * api-version on every ARM operation. The wire format is the same for every version the reference lists, so one
 * handler serves them all; anything else is ARM's 400 (MissingApiVersionParameter / InvalidApiVersionParameter).
 */
import { ApiError, ApiErrorCode } from '../errors.ts';

/** Oldest first; the newest is the SDK's default. */
export const SUPPORTED_API_VERSIONS = ['2016-11-01', '2020-08-01', '2021-01-01'] as const;
export type ApiVersion = (typeof SUPPORTED_API_VERSIONS)[number];
export const DEFAULT_API_VERSION: ApiVersion = '2021-01-01';

export function checkApiVersion(value: unknown, required = true): ApiVersion | undefined {
  if (value === undefined || value === '') {
    if (!required) return undefined;
    throw new ApiError(400, ApiErrorCode.MissingApiVersionParameter, "The api-version query parameter (?api-version=) is required for all requests.", 'api-version');
  }
  const v = Array.isArray(value) ? value[0] : value;
  if (Array.isArray(value) && value.length > 1) {
    throw new ApiError(400, ApiErrorCode.InvalidApiVersionParameter, 'The api-version query parameter must be given once.', 'api-version');
  }
  if (typeof v !== 'string' || !(SUPPORTED_API_VERSIONS as readonly string[]).includes(v)) {
    const shown = typeof v === 'string' ? v.slice(0, 40) : String(v);
    throw new ApiError(400, ApiErrorCode.InvalidApiVersionParameter,
      `The api-version '${shown}' is invalid. The supported versions are '${SUPPORTED_API_VERSIONS.join("', '")}'.`, 'api-version');
  }
  return v as ApiVersion;
}
