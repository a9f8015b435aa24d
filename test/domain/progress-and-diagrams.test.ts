import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { drivePercent, jobPercent } from '../../src/domain/progress.ts';
import { lifecycleMarkdown, jobDiagram, driveDiagram } from '../../src/domain/mermaid.ts';
import { JOB_TRANSITIONS, DRIVE_TRANSITIONS } from '../../src/domain/transitions.ts';
import { JOB_STATES, DRIVE_STATES } from '../../src/domain/states.ts';

describe('percent complete', () => {
  it('is derived from bytes and never 100 while work is pending', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ bytesTotal: fc.nat({ max: 1e12 }), bytesSucceeded: fc.nat({ max: 1e12 }), finished: fc.boolean() }), { minLength: 1, maxLength: 10 }),
        (drives) => {
          const p = jobPercent(drives);
          expect(p).toBeGreaterThanOrEqual(0);
          expect(p).toBeLessThanOrEqual(100);
          const counted = drives.filter((d) => d.bytesTotal > 0 || d.finished);
          if (p === 100) expect(counted.every((d) => d.finished)).toBe(true);
          for (const d of drives) if (!d.finished) expect(drivePercent(d)).toBeLessThan(100);
        },
      ),
    );
  });

  it('weights drives by their bytes', () => {
    expect(jobPercent([{ bytesTotal: 100, bytesSucceeded: 100, finished: true }, { bytesTotal: 300, bytesSucceeded: 0, finished: false }])).toBe(25);
    expect(drivePercent({ bytesTotal: 1000, bytesSucceeded: 999, finished: false })).toBe(99);
    expect(drivePercent({ bytesTotal: 1000, bytesSucceeded: 1000, finished: false })).toBe(99);
  });
});

describe('lifecycle diagrams', () => {
  it('docs/lifecycle.md is generated from the transition tables (run `npm run sneakernet -- docs lifecycle` after changing them)', () => {
    expect(fs.readFileSync(new URL('../../docs/lifecycle.md', import.meta.url), 'utf8')).toBe(lifecycleMarkdown());
  });

  it('every transition of the tables is an edge of its diagram, and every state appears', () => {
    const jd = jobDiagram();
    for (const r of JOB_TRANSITIONS) for (const f of r.from) expect(jd).toContain(`${f} --> ${r.to}: ${r.event}`);
    for (const s of JOB_STATES) expect(jd).toContain(s);
    const dd = driveDiagram();
    for (const r of DRIVE_TRANSITIONS) for (const f of r.from) expect(dd).toContain(`${f} --> ${r.to}: ${r.event}`);
    for (const s of DRIVE_STATES) expect(dd).toContain(s);
  });
});
