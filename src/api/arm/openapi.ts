/**
 * /openapi.json, generated from the route table: the same schemas that validate the requests and serialize the
 * responses. Public (it describes the API, it holds no data), so tools can fetch it before they have a token.
 */
import type { RouteSpec } from './route-table.ts';
import type { JsonSchema } from './schemas.ts';

/** OpenAPI 3.0 wants `nullable`, not type arrays, and no JSON-Schema-only keywords: the schemas are written that way. */
function paramsOf(schema: JsonSchema | undefined, where: 'path' | 'query') {
  if (!schema) return [];
  const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  return Object.entries(props).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' ? true : required.has(name),
    description: s.description,
    schema: s,
  }));
}

export function buildOpenApi(routes: readonly RouteSpec[], info: { version: string; serverUrl?: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const op: Record<string, unknown> = {
      operationId: r.operationId,
      summary: r.summary,
      tags: [r.tag],
      parameters: [...paramsOf(r.params, 'path'), ...paramsOf(r.querystring, 'query')],
      responses: Object.fromEntries(
        Object.entries(r.responses).map(([status, resp]) => [
          status,
          {
            description: resp.description,
            ...(resp.headers ? { headers: resp.headers } : {}),
            ...(resp.schema ? { content: { [resp.contentType ?? 'application/json']: { schema: resp.schema } } } : {}),
          },
        ]),
      ),
    };
    if (r.body) op.requestBody = { required: !!r.bodyRequired, content: { 'application/json': { schema: r.body } } };
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'sneakernet — Microsoft.ImportExport compatible API',
      version: info.version,
      description:
        'The Azure Import/Export ARM API (api-versions 2016-11-01, 2020-08-01, 2021-01-01) served by sneakernet, plus its own additions: ' +
        'properties.sneakernet on jobs and the job events stream. Authenticate with Authorization: Bearer <token>.',
    },
    ...(info.serverUrl ? { servers: [{ url: info.serverUrl }] } : {}),
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths,
  };
}
