// @vitest-environment happy-dom
/**
 * The lifecycle diagram is generated from the domain's transition tables: every state and every transition of the
 * tables appears, the current state is marked (by text, not colour alone), and the path taken is drawn.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DRIVE_STATES, DriveState, JOB_STATES, JobState } from '../../src/domain/states.ts';
import { DRIVE_TRANSITIONS, JOB_TRANSITIONS } from '../../src/domain/transitions.ts';
import { jobDiagram } from '../../src/domain/mermaid.ts';
import { LifecycleDiagram } from '../../web/src/components/LifecycleDiagram.tsx';
import { driveLifecycle, jobLifecycle, layoutDiagram, parseMermaid, pathTaken } from '../../web/src/lifecycle.ts';
import { render, type Rendered } from './render.ts';

let r: Rendered | null = null;
afterEach(() => {
  r?.unmount();
  r = null;
});

const tableEdges = (table: readonly { from: readonly string[]; to: string }[]) =>
  new Set(table.flatMap((rule) => rule.from.map((f) => `${f}>${rule.to}`)));

describe('lifecycle layout', () => {
  it('has exactly the states and transitions of the job table', () => {
    const { parsed, layout } = jobLifecycle();
    expect(new Set(parsed.states)).toEqual(new Set(JOB_STATES));
    expect(new Set(layout.edges.map((e) => `${e.from}>${e.to}`))).toEqual(tableEdges(JOB_TRANSITIONS));
    expect(parsed.initial).toEqual([JobState.Creating]);
  });

  it('has exactly the states and transitions of the drive table', () => {
    const { parsed, layout } = driveLifecycle();
    expect(new Set(parsed.states)).toEqual(new Set(DRIVE_STATES));
    expect(new Set(layout.edges.map((e) => `${e.from}>${e.to}`))).toEqual(tableEdges(DRIVE_TRANSITIONS));
  });

  it('reads the main path top to bottom and no two nodes overlap', () => {
    const { layout } = jobLifecycle();
    const y = (s: string) => layout.nodes.find((n) => n.id === s)!.y;
    const main = [JobState.Creating, JobState.Shipping, JobState.Received, JobState.Transferring, JobState.Packaging, JobState.Completed];
    for (let i = 1; i < main.length; i++) expect(y(main[i])).toBeGreaterThan(y(main[i - 1]));
    for (const a of layout.nodes) {
      for (const b of layout.nodes) {
        if (a === b) continue;
        const apart = Math.abs(a.x - b.x) >= layout.nodeWidth || Math.abs(a.y - b.y) >= layout.nodeHeight;
        expect(apart, `${a.id} overlaps ${b.id}`).toBe(true);
      }
      expect(a.x).toBeGreaterThanOrEqual(0);
      expect(a.x + layout.nodeWidth).toBeLessThanOrEqual(layout.width);
    }
  });

  it('parses the Mermaid text the docs use and tolerates a cycle-only graph', () => {
    const parsed = parseMermaid(jobDiagram());
    expect(parsed.edges.length).toBeGreaterThan(10);
    const cyc = layoutDiagram(parseMermaid('stateDiagram-v2\n    [*] --> A\n    A --> B: go\n    B --> A: back\n'));
    expect(cyc.edges.find((e) => e.from === 'B')!.back).toBe(true);
    expect(pathTaken(['A', 'A', 'B', null, 'C'])).toEqual([['A', 'B'], ['B', 'C']]);
  });
});

describe('<LifecycleDiagram>', () => {
  it('draws every state, marks the current one with text, and draws the path taken', () => {
    const history = [JobState.Creating, JobState.Shipping, JobState.Received, JobState.Transferring];
    r = render(LifecycleDiagram, { title: 'Lifecycle of job j1', lifecycle: jobLifecycle(), current: JobState.Transferring, history });
    const svg = r.container.querySelector('svg')!;
    expect(svg.getAttribute('role')).toBe('img');
    expect(svg.getAttribute('aria-label')).toContain(`Current state: ${JobState.Transferring}`);
    expect(svg.getAttribute('aria-label')).toContain('Creating → Shipping → Received → Transferring');
    const nodes = [...r.container.querySelectorAll('g[data-state]')];
    expect(nodes.map((n) => n.getAttribute('data-state')).sort()).toEqual([...JOB_STATES].sort());
    const current = r.container.querySelectorAll('g[data-current="true"]');
    expect(current).toHaveLength(1);
    expect(current[0].getAttribute('data-state')).toBe(JobState.Transferring);
    expect(current[0].textContent).toContain('current');
    const taken = [...r.container.querySelectorAll('path[data-taken="true"]')].map((p) => p.getAttribute('data-edge'));
    expect(taken.sort()).toEqual(['Creating>Shipping', 'Received>Transferring', 'Shipping>Received']);
    expect(r.container.querySelectorAll('path.edge').length).toBe(tableEdges(JOB_TRANSITIONS).size);
    // The Mermaid source under the drawing is the domain's own text.
    expect(r.container.querySelector('pre.mermaid-src')!.textContent).toBe(jobDiagram());
  });

  it('updates when the state changes (live)', () => {
    r = render(LifecycleDiagram, { title: 'd', lifecycle: driveLifecycle(), current: DriveState.Received, history: [DriveState.Received] });
    expect(r.container.querySelector('g[data-current="true"]')!.getAttribute('data-state')).toBe(DriveState.Received);
    r.rerender(LifecycleDiagram, { title: 'd', lifecycle: driveLifecycle(), current: DriveState.Transferring, history: [DriveState.Received, DriveState.Transferring] });
    expect(r.container.querySelector('g[data-current="true"]')!.getAttribute('data-state')).toBe(DriveState.Transferring);
    expect(r.container.querySelector('path[data-edge="Received>Transferring"]')!.getAttribute('data-taken')).toBe('true');
  });
});
