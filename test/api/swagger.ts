/**
 * The official swagger (shared/reference) as an Ajv validator: `validate('JobResponse', body)`. The external
 * systemData $ref is replaced by its verbatim definition (SOURCES.md); open enums (x-ms-enum modelAsString) are
 * not enforced, as the spec says they are open.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';

export const REFERENCE = path.resolve(import.meta.dirname, '../../../shared/reference/azure-importexport');

const SYSTEM_DATA = {
  type: 'object', readOnly: true,
  properties: {
    createdBy: { type: 'string' }, createdByType: { type: 'string' }, createdAt: { type: 'string', format: 'date-time' },
    lastModifiedBy: { type: 'string' }, lastModifiedByType: { type: 'string' }, lastModifiedAt: { type: 'string', format: 'date-time' },
  },
};

function prepare(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(prepare);
  if (!node || typeof node !== 'object') return node;
  const o = node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (k === '$ref' && typeof v === 'string' && v.includes('common-types')) out[k] = '#/definitions/SystemDataSubstitute';
    else if (k === 'enum' && (o['x-ms-enum'] as { modelAsString?: boolean } | undefined)?.modelAsString) continue;
    else out[k] = prepare(v);
  }
  return out;
}

export function loadSwagger(version = '2020-08-01') {
  const doc = prepare(JSON.parse(fs.readFileSync(path.join(REFERENCE, version, 'storageimportexport.json'), 'utf8'))) as Record<string, any>;
  doc.definitions.SystemDataSubstitute = SYSTEM_DATA;
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ $id: 'swagger', definitions: doc.definitions });
  return {
    doc,
    validate(definition: string, value: unknown): string[] {
      const v = ajv.getSchema(`swagger#/definitions/${definition}`)!;
      return v(value) ? [] : (v.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
    },
  };
}

export function loadExample(name: string, version = '2020-08-01') {
  return JSON.parse(fs.readFileSync(path.join(REFERENCE, version, 'examples', `${name}.json`), 'utf8')) as {
    parameters: Record<string, any>;
    responses: Record<string, { body?: any }>;
  };
}

/** Every key path of a JSON value, arrays as [] (so item shapes are compared, not counts). */
export function keyPaths(v: unknown, prefix = ''): Set<string> {
  const out = new Set<string>();
  const walk = (x: unknown, p: string) => {
    if (Array.isArray(x)) x.forEach((i) => walk(i, `${p}[]`));
    else if (x && typeof x === 'object') {
      for (const [k, val] of Object.entries(x)) {
        out.add(`${p}.${k}`);
        walk(val, `${p}.${k}`);
      }
    }
  };
  walk(v, prefix);
  return out;
}
