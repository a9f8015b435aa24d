/** Renders the transition tables as Mermaid state diagrams (docs/ and the console use the same text). */
import type { TransitionRule } from './transitions.ts';
import { DRIVE_TRANSITIONS, JOB_TRANSITIONS } from './transitions.ts';
import { DriveState, JobState } from './states.ts';

export function renderMermaid<S extends string, E extends string, C>(
  table: readonly TransitionRule<S, E, C>[],
  initial: readonly S[],
  terminal: readonly S[],
): string {
  const lines = ['stateDiagram-v2'];
  for (const s of initial) lines.push(`    [*] --> ${s}`);
  const seen = new Set<string>();
  for (const rule of table) {
    for (const from of rule.from) {
      const label = [rule.event, rule.guard ? `[${rule.guard.name}]` : '', `(${rule.actors.join('/')})`]
        .filter(Boolean)
        .join(' ');
      const line = `    ${from} --> ${rule.to}: ${label}`;
      if (!seen.has(line)) {
        seen.add(line);
        lines.push(line);
      }
    }
  }
  for (const s of terminal) lines.push(`    ${s} --> [*]`);
  return lines.join('\n') + '\n';
}

export const jobDiagram = () => renderMermaid(JOB_TRANSITIONS, [JobState.Creating], [JobState.Completed, JobState.Closed]);
export const driveDiagram = () =>
  renderMermaid(DRIVE_TRANSITIONS, [DriveState.Specified, DriveState.Received], [DriveState.ShippedBack]);

/** The Markdown page in docs/lifecycle.md; a test checks the committed file equals this. */
export function lifecycleMarkdown(): string {
  return [
    '# Job and drive lifecycles',
    '',
    'Generated from `src/domain/transitions.ts` by `npm run sneakernet -- docs lifecycle`; a test keeps it in step.',
    'Edges read `event [guard] (who may trigger it)`. Import drives start in Specified, export drives in Received.',
    '',
    '## Job',
    '',
    '```mermaid',
    jobDiagram().trimEnd(),
    '```',
    '',
    '## Drive',
    '',
    '```mermaid',
    driveDiagram().trimEnd(),
    '```',
    '',
  ].join('\n');
}
