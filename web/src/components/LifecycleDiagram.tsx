/**
 * The lifecycle diagram, drawn as SVG from the domain's transition tables (through the generated Mermaid text).
 * The current state is outlined thickly and labelled "current"; the transitions the entity actually took are drawn
 * solid and numbered; others are thin and dashed. A text summary and the Mermaid source sit under it for readers
 * who cannot see the drawing.
 */
import { useId } from 'react';
import { pathTaken, type DiagramLayout, type ParsedDiagram } from '../lifecycle.ts';
import { stateLook } from './StateBadge.tsx';

export interface LifecycleDiagramProps {
  title: string;
  lifecycle: { parsed: ParsedDiagram; layout: DiagramLayout; mermaid: string };
  current?: string | null;
  /** States in the order the entity went through them (from its history). */
  history?: Array<string | null | undefined>;
  /** Rendered width cap in CSS px; the SVG scales down on narrow screens. */
  maxWidth?: number;
}

export function LifecycleDiagram({ title, lifecycle, current, history = [], maxWidth = 560 }: LifecycleDiagramProps) {
  const id = useId().replace(/:/g, '');
  const { layout, mermaid } = lifecycle;
  const taken = pathTaken(history);
  const visited = new Set(history.filter(Boolean) as string[]);
  const takenIndex = new Map<string, number>();
  taken.forEach(([a, b], i) => {
    if (!takenIndex.has(`${a}>${b}`)) takenIndex.set(`${a}>${b}`, i + 1);
  });
  const pos = new Map(layout.nodes.map((n) => [n.id, n]));
  const W = layout.nodeWidth;
  const H = layout.nodeHeight;
  const summary =
    `${title}. ${current ? `Current state: ${current}.` : ''} ` +
    (taken.length ? `Path taken: ${[taken[0][0], ...taken.map((t) => t[1])].join(' → ')}.` : 'No transitions yet.');

  const edgePath = (from: string, to: string, back: boolean, k: number) => {
    const a = pos.get(from)!;
    const b = pos.get(to)!;
    if (!back) {
      const x1 = a.x + W / 2 + (b.x - a.x) * 0.08;
      const y1 = a.y + H;
      const x2 = b.x + W / 2 - (b.x - a.x) * 0.08;
      const y2 = b.y;
      const my = (y1 + y2) / 2;
      return `M ${x1} ${y1} C ${x1} ${my}, ${x2} ${my}, ${x2} ${y2}`;
    }
    // Back (and same-layer) edges leave from the side and loop outward.
    const right = a.x + W / 2 >= layout.width / 2;
    const side = right ? 1 : -1;
    const x1 = right ? a.x + W : a.x;
    const x2 = right ? b.x + W : b.x;
    const y1 = a.y + H / 2 + (k % 3) * 3;
    const y2 = b.y + H / 2 - (k % 3) * 3;
    const bulge = 18 + Math.abs(a.layer - b.layer) * 6 + (k % 4) * 4;
    const cx = Math.max(x1, x2) * (right ? 1 : 0) + Math.min(x1, x2) * (right ? 0 : 1) + side * bulge;
    return `M ${x1} ${y1} C ${cx} ${y1}, ${cx} ${y2}, ${x2} ${y2}`;
  };

  return (
    <figure className="diagram" aria-labelledby={`${id}-cap`}>
      <svg
        role="img"
        aria-label={summary}
        viewBox={`0 0 ${layout.width} ${layout.height}`}
        style={{ width: '100%', maxWidth, height: 'auto' }}
        data-testid="lifecycle-svg"
      >
        <defs>
          <marker id={`${id}-arrow`} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" fill="#5b6573" />
          </marker>
          <marker id={`${id}-arrow-taken`} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" fill="#0b57d0" />
          </marker>
        </defs>
        {layout.edges.map((e, k) => {
          const n = takenIndex.get(`${e.from}>${e.to}`);
          return (
            <path
              key={`${e.from}>${e.to}`}
              d={edgePath(e.from, e.to, e.back, k)}
              className={n ? 'edge taken' : 'edge'}
              data-edge={`${e.from}>${e.to}`}
              data-taken={n ? 'true' : 'false'}
              fill="none"
              stroke={n ? '#0b57d0' : '#8a939f'}
              strokeWidth={n ? 3 : 1.2}
              strokeDasharray={n ? undefined : '4 3'}
              markerEnd={`url(#${id}-arrow${n ? '-taken' : ''})`}
            >
              <title>{`${e.from} → ${e.to}: ${e.labels.join('; ')}`}</title>
            </path>
          );
        })}
        {layout.nodes.map((n) => {
          const isCurrent = n.id === current;
          const look = stateLook(n.id);
          return (
            <g
              key={n.id}
              transform={`translate(${n.x},${n.y})`}
              data-state={n.id}
              data-current={isCurrent ? 'true' : 'false'}
              data-visited={visited.has(n.id) ? 'true' : 'false'}
              className={`node tone-${look.tone}${isCurrent ? ' current' : ''}${visited.has(n.id) ? ' visited' : ''}`}
            >
              <rect
                width={W}
                height={H}
                rx={n.terminal ? 20 : 6}
                fill={isCurrent ? '#0b57d0' : visited.has(n.id) ? '#e3ecfd' : '#ffffff'}
                stroke={isCurrent ? '#062e6f' : '#5b6573'}
                strokeWidth={isCurrent ? 3 : 1.2}
              />
              <text x={W / 2} y={H / 2 + 5} textAnchor="middle" fontSize="14" fill={isCurrent ? '#ffffff' : '#1b1f24'} fontWeight={isCurrent ? 700 : 400}>
                {`${look.icon} ${n.id}`}
              </text>
              {isCurrent && (
                <text x={-6} y={H / 2 + 4} textAnchor="end" fontSize="12" fill="#062e6f" fontWeight={700}>
                  current ▶
                </text>
              )}
              {n.initial && !isCurrent && (
                <text x={W / 2} y={-4} textAnchor="middle" fontSize="10" fill="#5b6573">
                  start
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption id={`${id}-cap`}>
        <strong>{title}</strong> — {summary}
      </figcaption>
      <details>
        <summary>Transitions (Mermaid source, generated from the domain tables)</summary>
        <pre className="mermaid-src">{mermaid}</pre>
      </details>
    </figure>
  );
}
