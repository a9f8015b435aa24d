/** A state told by text and a shape, never by colour alone. */
import { DriveState, JobState } from '../../../src/domain/states.ts';

type Tone = 'neutral' | 'active' | 'good' | 'warn' | 'bad';
const LOOK: Record<string, { icon: string; tone: Tone }> = {
  [JobState.Creating]: { icon: '✎', tone: 'neutral' },
  [JobState.Shipping]: { icon: '➜', tone: 'active' },
  [JobState.Received]: { icon: '↓', tone: 'active' },
  [JobState.Transferring]: { icon: '⇄', tone: 'active' },
  [JobState.Packaging]: { icon: '▣', tone: 'active' },
  [JobState.Completed]: { icon: '✓', tone: 'good' },
  [JobState.Closed]: { icon: '■', tone: 'warn' },
  [JobState.Faulted]: { icon: '⚠', tone: 'bad' },
  [DriveState.Specified]: { icon: '✎', tone: 'neutral' },
  [DriveState.NeverReceived]: { icon: '?', tone: 'bad' },
  [DriveState.CompletedMoreInfo]: { icon: '!', tone: 'warn' },
  [DriveState.ShippedBack]: { icon: '↩', tone: 'good' },
};

export const stateLook = (state: string) => LOOK[state] ?? { icon: '•', tone: 'neutral' as Tone };

export function StateBadge({ state, label }: { state: string; label?: string }) {
  const look = stateLook(state);
  return (
    <span className={`badge tone-${look.tone}`} data-state={state}>
      <span className="badge-icon" aria-hidden="true">{look.icon}</span>
      <span>{label ?? state}</span>
    </span>
  );
}
