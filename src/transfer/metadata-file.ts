// Metadata and properties files (reference §3.11): small XML files that set
// (import) or record (export) a blob's metadata and HTTP properties. Errors
// use the documented metadata/properties status codes: Corrupted (hash
// mismatch), XmlReadFailed (not in the required format), FileNotFound, ...
import * as fsp from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { BlobHttpProperties } from '../blob/backend.ts';
import { TransferError } from './errors.ts';
import { md5FileBase16, sameBase16 } from './md5.ts';
import { streamXmlEvents, type XmlSource, type XNode } from './xml-stream.ts';
import { element, XmlOutput } from './xml-writer.ts';

/** Azure caps all metadata of a blob at 8 KiB; a file far beyond that is not a metadata file. */
export const MAX_METADATA_FILE_BYTES = 64 * 1024;
/** Metadata names follow C# identifier rules (Set Blob Metadata). */
const METADATA_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface BlobFileProperties extends BlobHttpProperties {
  /** Export only. */
  lastModified?: string;
  /** Export only. */
  etag?: string;
  /** Export only. */
  contentLength?: number;
  /** Base64 MD5. */
  contentMd5?: string;
}

/** Element name ↔ field. Content-Disposition is not in the documented list; accepted as a sneakernet extension. */
const PROPERTY_ELEMENTS: [string, keyof BlobFileProperties][] = [
  ['Last-Modified', 'lastModified'],
  ['Etag', 'etag'],
  ['Content-Length', 'contentLength'],
  ['Content-Type', 'contentType'],
  ['Content-MD5', 'contentMd5'],
  ['Content-Encoding', 'contentEncoding'],
  ['Content-Language', 'contentLanguage'],
  ['Cache-Control', 'cacheControl'],
  ['Content-Disposition', 'contentDisposition'],
];

function xmlFailed(message: string, path?: string, line?: number): TransferError {
  return new TransferError('XmlReadFailed', message, { path, line });
}

async function preflight(source: XmlSource, expectedHash?: string): Promise<void> {
  if (typeof source !== 'string') return;
  let size: number;
  try {
    const st = await fsp.stat(source);
    if (!st.isFile()) throw new TransferError('FileNotFound', `${source} is not a file`, { path: source });
    size = st.size;
  } catch (err) {
    if (err instanceof TransferError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new TransferError('FileNotFound', `${source} not found`, { path: source, cause: err });
    if (code === 'EACCES' || code === 'EPERM') throw new TransferError('FileAccessDenied', `Access denied to ${source}`, { path: source, cause: err });
    throw new TransferError('IOFailed', `Cannot read ${source}: ${(err as Error).message}`, { path: source, cause: err });
  }
  if (size > MAX_METADATA_FILE_BYTES) throw xmlFailed(`${source} is larger than ${MAX_METADATA_FILE_BYTES} bytes`, source);
  if (expectedHash !== undefined) {
    const actual = await md5FileBase16(source);
    if (!sameBase16(actual, expectedHash)) {
      throw new TransferError('Corrupted', `${source}: MD5 ${actual} does not match ${expectedHash.trim()}`, { path: source });
    }
  }
}

async function readRoot(source: XmlSource, rootName: string): Promise<XNode> {
  const where = typeof source === 'string' ? source : undefined;
  let root: XNode | undefined;
  for await (const ev of streamXmlEvents(source, () => true, (m, l) => xmlFailed(`${where ?? 'input'}: ${m}`, where, l), {
    maxTextLength: MAX_METADATA_FILE_BYTES, maxNodesPerCapture: 1024, maxCharsPerCapture: MAX_METADATA_FILE_BYTES * 2, maxDepth: 8,
  })) {
    if (ev.type === 'node') root = ev.node;
  }
  if (!root || root.name !== rootName) throw xmlFailed(`${where ?? 'input'}: root element must be <${rootName}>`, where);
  for (const c of root.children) {
    if (c.children.length > 0) throw xmlFailed(`<${c.name}> must hold text only`, where, c.line);
  }
  return root;
}

/** Reads a metadata file into name → value. `expectedHash` is the manifest's Base16 MD5 of the file. */
export async function readMetadataFile(source: XmlSource, options: { expectedHash?: string } = {}): Promise<Record<string, string>> {
  await preflight(source, options.expectedHash);
  const root = await readRoot(source, 'Metadata');
  const out: Record<string, string> = {};
  const seen = new Set<string>();
  for (const c of root.children) {
    if (!METADATA_NAME.test(c.name)) throw xmlFailed(`metadata name ${JSON.stringify(c.name)} is not a valid identifier`, undefined, c.line);
    if (seen.has(c.name.toLowerCase())) throw xmlFailed(`metadata name ${c.name} appears twice`, undefined, c.line);
    seen.add(c.name.toLowerCase());
    out[c.name] = c.text;
  }
  return out;
}

/** Reads a properties file. Unknown elements are a schema error (XmlReadFailed). */
export async function readPropertiesFile(source: XmlSource, options: { expectedHash?: string } = {}): Promise<BlobFileProperties> {
  await preflight(source, options.expectedHash);
  const root = await readRoot(source, 'Properties');
  const byName = new Map(PROPERTY_ELEMENTS);
  const out: BlobFileProperties = {};
  for (const c of root.children) {
    const key = byName.get(c.name);
    if (!key) throw xmlFailed(`unknown property <${c.name}>`, undefined, c.line);
    if (out[key] !== undefined) throw xmlFailed(`property <${c.name}> appears twice`, undefined, c.line);
    const text = c.text.trim();
    if (key === 'contentLength') {
      if (!/^\d{1,15}$/.test(text)) throw xmlFailed('Content-Length is not an integer', undefined, c.line);
      out.contentLength = Number(text);
    } else if (key === 'contentMd5') {
      if (Buffer.from(text, 'base64').length !== 16 || !/^[A-Za-z0-9+/]{22}==$/.test(text)) throw xmlFailed('Content-MD5 is not a Base64 MD5', undefined, c.line);
      out.contentMd5 = text;
    } else {
      (out as Record<string, string>)[key] = text;
    }
  }
  return out;
}

/** The part of a properties file that is set on a blob during import. */
export function toBlobHttpProperties(p: BlobFileProperties): BlobHttpProperties {
  const out: BlobHttpProperties = {};
  if (p.contentType !== undefined) out.contentType = p.contentType;
  if (p.contentEncoding !== undefined) out.contentEncoding = p.contentEncoding;
  if (p.contentLanguage !== undefined) out.contentLanguage = p.contentLanguage;
  if (p.cacheControl !== undefined) out.cacheControl = p.cacheControl;
  if (p.contentDisposition !== undefined) out.contentDisposition = p.contentDisposition;
  return out;
}

/** Writes a metadata file (atomically when given a path). XmlWriteFailed on an invalid name. */
export async function writeMetadataFile(target: string | Writable, metadata: Record<string, string>): Promise<void> {
  for (const name of Object.keys(metadata)) {
    if (!METADATA_NAME.test(name)) throw new TransferError('XmlWriteFailed', `metadata name ${JSON.stringify(name)} is not a valid identifier`);
  }
  let s = '<?xml version="1.0" encoding="UTF-8"?>\n<Metadata>\n';
  for (const [k, v] of Object.entries(metadata)) s += `  ${element(k, v)}\n`;
  await writeAll(target, `${s}</Metadata>\n`);
}

/** Writes a properties file in the documented element order. */
export async function writePropertiesFile(target: string | Writable, props: BlobFileProperties): Promise<void> {
  let s = '<?xml version="1.0" encoding="UTF-8"?>\n<Properties>\n';
  for (const [el, key] of PROPERTY_ELEMENTS) {
    const v = props[key];
    if (v !== undefined && v !== '') s += `  ${element(el, String(v))}\n`;
  }
  await writeAll(target, `${s}</Properties>\n`);
}

async function writeAll(target: string | Writable, text: string): Promise<void> {
  const out = new XmlOutput(target);
  try {
    await out.write(text);
    await out.close();
  } catch (err) {
    await out.abort().catch(() => {});
    if (err instanceof TransferError) throw err;
    throw new TransferError('XmlWriteFailed', `Cannot write: ${(err as Error).message}`, { cause: err });
  }
}
