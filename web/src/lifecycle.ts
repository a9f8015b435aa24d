/**
 * Lays out the lifecycle diagrams. The graph comes from the domain's Mermaid text (src/domain/mermaid.ts), which is
 * itself generated from the transition tables — the console never spells a state name. Layout: layers by longest
 * path from the initial states after removing back edges (found by depth-first search in table order), so the main
 * path reads top to bottom and the fault/unfault edges curve back up the side.
 */
import { driveDiagram, jobDiagram } from '../../src/domain/mermaid.ts';

export interface DiagramEdge {
  from: string;
  to: string;
  labels: string[];
  back: boolean;
}
export interface DiagramNode {
  id: string;
  layer: number;
  slot: number;
  x: number;
  y: number;
  initial: boolean;
  terminal: boolean;
}
export interface DiagramLayout {
  nodes: DiagramNode[];
  edges: DiagramEdge[];
  width: number;
  height: number;
  nodeWidth: number;
  nodeHeight: number;
}

export interface ParsedDiagram {
  states: string[];
  initial: string[];
  terminal: string[];
  edges: Array<{ from: string; to: string; label: string }>;
}

export function parseMermaid(text: string): ParsedDiagram {
  const states: string[] = [];
  const add = (s: string) => {
    if (!states.includes(s)) states.push(s);
  };
  const out: ParsedDiagram = { states, initial: [], terminal: [], edges: [] };
  for (const raw of text.split('\n')) {
    const m = /^\s*(\[\*\]|\w+)\s*-->\s*(\[\*\]|\w+)\s*(?::\s*(.*))?$/.exec(raw);
    if (!m) continue;
    const [, from, to, label] = m;
    if (from === '[*]') {
      add(to);
      out.initial.push(to);
    } else if (to === '[*]') {
      add(from);
      out.terminal.push(from);
    } else {
      add(from);
      add(to);
      out.edges.push({ from, to, label: (label ?? '').trim() });
    }
  }
  return out;
}

export const NODE_W = 150;
export const NODE_H = 40;
const GAP_X = 40;
const GAP_Y = 34;
const MARGIN = 84;

export function layoutDiagram(d: ParsedDiagram): DiagramLayout {
  const adj = new Map<string, string[]>();
  for (const s of d.states) adj.set(s, []);
  for (const e of d.edges) if (!adj.get(e.from)!.includes(e.to)) adj.get(e.from)!.push(e.to);
  // Back edges: DFS in table order from the initial states.
  const back = new Set<string>();
  const color = new Map<string, 0 | 1 | 2>();
  const dfs = (s: string) => {
    color.set(s, 1);
    for (const t of adj.get(s) ?? []) {
      const c = color.get(t) ?? 0;
      if (c === 1) back.add(`${s}>${t}`);
      else if (c === 0) dfs(t);
    }
    color.set(s, 2);
  };
  for (const s of [...d.initial, ...d.states]) if (!color.get(s)) dfs(s);
  // Longest-path layering on what remains (a DAG).
  const layer = new Map<string, number>();
  const visit = (s: string, seen: Set<string>): number => {
    if (layer.has(s)) return layer.get(s)!;
    if (seen.has(s)) return 0;
    seen.add(s);
    const preds = d.edges.filter((e) => e.to === s && e.from !== s && !back.has(`${e.from}>${e.to}`)).map((e) => e.from);
    const l = preds.length === 0 ? 0 : Math.max(...preds.map((p) => visit(p, seen) + 1));
    layer.set(s, l);
    return l;
  };
  for (const s of d.states) visit(s, new Set());
  // Several initial states (drives: Specified for import, Received for export) share the top only when unrelated.
  const layers: string[][] = [];
  for (const s of d.states) (layers[layer.get(s)!] ??= []).push(s);
  const maxPerLayer = Math.max(...layers.map((l) => l?.length ?? 0));
  const width = MARGIN * 2 + maxPerLayer * NODE_W + (maxPerLayer - 1) * GAP_X;
  const nodes: DiagramNode[] = [];
  layers.forEach((row, li) => {
    if (!row) return;
    const rowWidth = row.length * NODE_W + (row.length - 1) * GAP_X;
    const start = (width - rowWidth) / 2;
    row.forEach((id, slot) => {
      nodes.push({
        id, layer: li, slot,
        x: start + slot * (NODE_W + GAP_X),
        y: MARGIN / 2 + li * (NODE_H + GAP_Y),
        initial: d.initial.includes(id),
        terminal: d.terminal.includes(id),
      });
    });
  });
  const merged = new Map<string, DiagramEdge>();
  for (const e of d.edges) {
    const k = `${e.from}>${e.to}`;
    const m = merged.get(k) ?? { from: e.from, to: e.to, labels: [], back: back.has(k) || layer.get(e.to)! <= layer.get(e.from)! };
    if (e.label && !m.labels.includes(e.label)) m.labels.push(e.label);
    merged.set(k, m);
  }
  return {
    nodes,
    edges: [...merged.values()],
    width,
    height: MARGIN + layers.length * (NODE_H + GAP_Y) - GAP_Y,
    nodeWidth: NODE_W,
    nodeHeight: NODE_H,
  };
}

export interface Lifecycle {
  parsed: ParsedDiagram;
  layout: DiagramLayout;
  mermaid: string;
}
let jobCache: Lifecycle | null = null;
let driveCache: Lifecycle | null = null;
export function jobLifecycle(): Lifecycle {
  if (!jobCache) {
    const mermaid = jobDiagram();
    const parsed = parseMermaid(mermaid);
    jobCache = { mermaid, parsed, layout: layoutDiagram(parsed) };
  }
  return jobCache;
}
export function driveLifecycle(): Lifecycle {
  if (!driveCache) {
    const mermaid = driveDiagram();
    const parsed = parseMermaid(mermaid);
    driveCache = { mermaid, parsed, layout: layoutDiagram(parsed) };
  }
  return driveCache;
}

/** The consecutive (from, to) pairs a history walked through, for drawing the path taken. */
export function pathTaken(states: Array<string | null | undefined>): Array<[string, string]> {
  const seq = states.filter((s): s is string => !!s);
  const out: Array<[string, string]> = [];
  for (let i = 1; i < seq.length; i++) if (seq[i] !== seq[i - 1]) out.push([seq[i - 1], seq[i]]);
  return out;
}
