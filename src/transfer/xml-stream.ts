// Streaming XML reading on top of saxes. Documents we read (manifests, logs)
// are a short header followed by many small repeated records; we turn the SAX
// stream into "completed small subtree" events so callers get one record at a
// time and memory stays bounded no matter how large the file is.
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { SaxesParser } from 'saxes';

export interface XNode {
  name: string;
  attrs: Record<string, string>;
  text: string;
  children: XNode[];
  /** 1-based line where the element starts. */
  line: number;
}

export type XmlEvent =
  /** An element that is not captured: its children arrive as further events. */
  | { type: 'open'; name: string; attrs: Record<string, string>; depth: number; line: number }
  | { type: 'close'; name: string; depth: number; line: number }
  /** A captured element, complete with its subtree. */
  | { type: 'node'; node: XNode; depth: number };

export interface XmlLimits {
  /** Longest text content of one element, in characters. */
  maxTextLength: number;
  /** Most elements inside one captured subtree. */
  maxNodesPerCapture: number;
  /** Most characters (text + attribute names/values) inside one captured subtree. */
  maxCharsPerCapture: number;
  maxDepth: number;
}

export const DEFAULT_XML_LIMITS: XmlLimits = {
  maxTextLength: 64 * 1024,
  maxNodesPerCapture: 60_000,
  maxCharsPerCapture: 16 * 1024 * 1024,
  maxDepth: 32,
};

export type XmlSource = string | Readable | AsyncIterable<string | Buffer>;

/** Decides whether an element (root has depth 1) is collected whole instead of streamed. */
export type CapturePredicate = (name: string, depth: number, parentName: string | undefined) => boolean;

interface Capture {
  root: XNode;
  stack: XNode[];
  nodes: number;
  chars: number;
  depth: number;
}

/** Text-decoding chunk iterator over a path or a stream. */
async function* textChunks(source: XmlSource): AsyncGenerator<string> {
  const it: AsyncIterable<string | Buffer> =
    // Bytes, not 'utf8' text: a fatal decoder reports invalid UTF-8 instead of silently substituting U+FFFD.
    typeof source === 'string' ? createReadStream(source, { highWaterMark: 64 * 1024 }) : source;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let first = true;
  for await (const chunk of it) {
    let s = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    if (first && s.length > 0) {
      if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
      first = false;
    }
    if (s.length > 0) yield s;
  }
  const rest = decoder.decode();
  if (rest) yield rest;
}

/**
 * Yields XML events for `source`. Any well-formedness problem, DOCTYPE, a
 * non-UTF-8 declaration or a limit breach is reported through `fail`, which
 * must return the (typed) error to throw.
 */
export async function* streamXmlEvents(
  source: XmlSource,
  capture: CapturePredicate,
  fail: (message: string, line: number | undefined) => Error,
  limits: XmlLimits = DEFAULT_XML_LIMITS,
): AsyncGenerator<XmlEvent> {
  const parser = new SaxesParser({ xmlns: false, position: true });
  const queue: XmlEvent[] = [];
  const path: string[] = [];
  let cap: Capture | undefined;
  let problem: Error | undefined;
  const stop = (msg: string) => {
    problem ??= fail(msg, parser.line);
    throw problem;
  };

  parser.on('xmldecl', (d) => {
    if (d.encoding && !/^utf-?8$/i.test(d.encoding)) stop(`unsupported encoding ${d.encoding}; only UTF-8 is accepted`);
  });
  parser.on('doctype', () => stop('DOCTYPE is not allowed'));
  parser.on('opentag', (tag) => {
    const depth = path.length + 1;
    if (depth > limits.maxDepth) stop(`elements nested deeper than ${limits.maxDepth}`);
    const attrs = tag.attributes as Record<string, string>;
    if (cap) {
      const node: XNode = { name: tag.name, attrs, text: '', children: [], line: parser.line };
      cap.nodes++;
      cap.chars += tag.name.length + Object.entries(attrs).reduce((n, [k, v]) => n + k.length + v.length, 0);
      if (cap.nodes > limits.maxNodesPerCapture) stop(`<${cap.root.name}> has more than ${limits.maxNodesPerCapture} elements`);
      if (cap.chars > limits.maxCharsPerCapture) stop(`<${cap.root.name}> is larger than ${limits.maxCharsPerCapture} characters`);
      cap.stack[cap.stack.length - 1].children.push(node);
      cap.stack.push(node);
    } else if (capture(tag.name, depth, path[path.length - 1])) {
      const node: XNode = { name: tag.name, attrs, text: '', children: [], line: parser.line };
      cap = { root: node, stack: [node], nodes: 1, chars: 0, depth };
    } else {
      queue.push({ type: 'open', name: tag.name, attrs, depth, line: parser.line });
    }
    path.push(tag.name);
  });
  const onText = (t: string) => {
    if (!cap) return; // whitespace between streamed elements
    const node = cap.stack[cap.stack.length - 1];
    if (node.text.length + t.length > limits.maxTextLength) stop(`text of <${node.name}> is longer than ${limits.maxTextLength} characters`);
    cap.chars += t.length;
    if (cap.chars > limits.maxCharsPerCapture) stop(`<${cap.root.name}> is larger than ${limits.maxCharsPerCapture} characters`);
    node.text += t;
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('closetag', (tag) => {
    const depth = path.length;
    path.pop();
    if (cap) {
      cap.stack.pop();
      if (cap.stack.length === 0) {
        queue.push({ type: 'node', node: cap.root, depth: cap.depth });
        cap = undefined;
      }
    } else {
      queue.push({ type: 'close', name: tag.name, depth, line: parser.line });
    }
  });
  parser.on('error', (err) => {
    problem ??= fail(err.message.replace(/^[^:]*:\d+:\d+: /, ''), parser.line);
    throw problem;
  });

  const write = (s: string | null) => {
    try {
      if (s === null) parser.close();
      else parser.write(s);
    } catch (err) {
      throw problem ?? fail((err as Error).message, parser.line);
    }
  };

  try {
    for await (const chunk of textChunks(source)) {
      write(chunk);
      while (queue.length > 0) yield queue.shift()!;
    }
  } catch (err) {
    if (problem) throw problem;
    if (err instanceof TypeError && /decode|encoded/i.test(err.message)) throw fail('content is not valid UTF-8', parser.line);
    throw err;
  }
  write(null);
  while (queue.length > 0) yield queue.shift()!;
}

/** First child with this name. */
export function child(node: XNode, name: string): XNode | undefined {
  return node.children.find((c) => c.name === name);
}

/** Trimmed text of the first child with this name. */
export function childText(node: XNode, name: string): string | undefined {
  const c = child(node, name);
  return c === undefined ? undefined : c.text.trim();
}
