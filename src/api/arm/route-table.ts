/**
 * One description per ARM route: method, path, schemas, handler. The same description registers the Fastify
 * route, validates the request (Ajv, compiled once), serializes the success body (fast-json-stringify, which
 * also drops anything the schema does not name) and becomes a path of /openapi.json.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, ApiErrorCode } from '../errors.ts';
import { checkApiVersion } from './api-version.ts';
import type { JsonSchema } from './schemas.ts';

export type HttpMethod = 'GET' | 'PUT' | 'PATCH' | 'DELETE' | 'POST';

export interface ResponseSpec {
  description: string;
  schema?: JsonSchema;
  contentType?: string;
  headers?: Record<string, { description: string; schema: JsonSchema }>;
}

export interface RouteSpec {
  method: HttpMethod;
  /** Fastify path (`:param`). */
  url: string;
  operationId: string;
  summary: string;
  tag: string;
  /** api-version: required on Azure's operations; optional (but checked when given) on sneakernet's own. */
  apiVersion: 'required' | 'optional';
  params?: JsonSchema;
  querystring?: JsonSchema;
  body?: JsonSchema;
  /** The route needs a body (PUT/PATCH). */
  bodyRequired?: boolean;
  responses: Record<string, ResponseSpec>;
  handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

// Requests: no type coercion (a string is not a number), nothing removed or defaulted behind the caller's back.
const bodyAjv = new Ajv({ allErrors: false, strict: false, coerceTypes: false, useDefaults: false, validateFormats: false });
// Query strings are text by nature: numbers are coerced.
const queryAjv = new Ajv({ allErrors: false, strict: false, coerceTypes: true, useDefaults: false, validateFormats: false });

/** Which ARM code a bad path parameter gets. */
const PARAM_CODES: Record<string, string> = {
  jobName: ApiErrorCode.InvalidResourceName,
  resourceGroupName: ApiErrorCode.InvalidResourceGroupName,
  subscriptionId: ApiErrorCode.InvalidSubscriptionId,
};

/** `/properties/driveList/0/driveId` → `properties.driveList[0].driveId`. */
export function jsonPathOf(instancePath: string, missing?: string): string {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (missing) parts.push(missing);
  return parts.reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

function describe(e: ErrorObject, root: string): { target: string; message: string } {
  const missing = e.keyword === 'required' ? String((e.params as { missingProperty?: string }).missingProperty) : undefined;
  const target = jsonPathOf(e.instancePath, missing) || root;
  if (missing) return { target, message: `'${target}' is required.` };
  if (e.keyword === 'type') return { target, message: `'${target}' must be of type ${(e.params as { type: string }).type}.` };
  if (e.keyword === 'maxItems') return { target, message: `'${target}' must have at most ${(e.params as { limit: number }).limit} items.` };
  return { target, message: `'${target}' ${e.message ?? 'is not valid'}.` };
}

/** Strips nulls from objects: ARM clients send null for "not given". */
export function dropNulls(v: unknown, depth = 0): unknown {
  if (depth > 32 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => dropNulls(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = dropNulls(x, depth + 1);
  return out;
}

interface Compiled {
  params?: ValidateFunction;
  query?: ValidateFunction;
  body?: ValidateFunction;
}

function compile(spec: RouteSpec): Compiled {
  return {
    params: spec.params ? bodyAjv.compile(spec.params) : undefined,
    query: spec.querystring ? queryAjv.compile({ ...spec.querystring, required: [] }) : undefined,
    body: spec.body ? bodyAjv.compile(spec.body) : undefined,
  };
}

function validateRequest(spec: RouteSpec, c: Compiled, req: FastifyRequest): void {
  const query = (req.query ?? {}) as Record<string, unknown>;
  checkApiVersion(query['api-version'], spec.apiVersion === 'required');
  if (c.params && !c.params(req.params)) {
    const e = c.params.errors![0];
    const name = jsonPathOf(e.instancePath);
    const value = String((req.params as Record<string, unknown>)[name] ?? '').slice(0, 100);
    throw new ApiError(400, PARAM_CODES[name] ?? ApiErrorCode.InvalidRequestContent, `The ${name} '${value}' is not valid: ${e.message}.`, name);
  }
  if (c.query) {
    const copy = { ...query };
    if (!c.query(copy)) {
      const { target, message } = describe(c.query.errors![0], 'query');
      throw new ApiError(400, ApiErrorCode.InvalidQueryParameter, message, target);
    }
  }
  if (spec.body) {
    if (req.body === undefined || req.body === null) {
      if (spec.bodyRequired) throw new ApiError(400, ApiErrorCode.InvalidRequestContent, 'The request body is required (a JSON object).', 'body');
      return;
    }
    req.body = dropNulls(req.body);
    if (!c.body!(req.body)) {
      const { target, message } = describe(c.body!.errors![0], 'body');
      throw new ApiError(400, ApiErrorCode.InvalidRequestContent, message, target);
    }
  }
}

export function registerRouteTable(app: FastifyInstance, routes: readonly RouteSpec[]): void {
  for (const spec of routes) {
    const compiled = compile(spec);
    const response: Record<string, JsonSchema> = {};
    for (const [status, r] of Object.entries(spec.responses)) {
      if (/^2\d\d$/.test(status) && r.schema && (r.contentType ?? 'application/json') === 'application/json') response[status] = r.schema;
    }
    app.route({
      method: spec.method,
      url: spec.url,
      schema: Object.keys(response).length > 0 ? { response } : undefined,
      handler: async (req, reply) => {
        validateRequest(spec, compiled, req);
        return spec.handler(req, reply);
      },
    });
  }
}
