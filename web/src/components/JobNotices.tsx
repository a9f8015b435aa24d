/**
 * What the operators found that the job's owner must know or act on: a return address flagged as wrong or missing
 * (with the date the drives will be destroyed unless it is fixed), drives damaged or lost in return shipping (with the
 * blobs to export again or download), and drives due for or past secure destruction. Every state is told in text
 * with an icon, never by colour alone. Renders nothing when the job has none of these.
 */
import { ReturnIssueKind } from '../../../src/domain/custody.ts';
import type { JobResponse, ReturnAddressProblem, ReturnIssue } from '../api.ts';
import { formatTime, relative } from '../format.ts';
import { hasJobNotices, readJobNotices, type DriveDestruction } from '../jobNotices.ts';

function When({ at }: { at: string }) {
  return at ? <time dateTime={at}>{formatTime(at)}</time> : <>an unknown date</>;
}

export interface ReturnAddressNoticeProps {
  problem: ReturnAddressProblem;
  /** Opens the "fix the return address" form of this page; absent when this session cannot fix it here. */
  onFix?: () => void;
  /** The id of that form, for aria-controls. */
  fixControls?: string;
}

export function ReturnAddressNotice({ problem, onFix, fixControls }: ReturnAddressNoticeProps) {
  const open = !problem.expiredAt;
  return (
    <section className="notice notice-bad" aria-labelledby="address-problem-title" data-testid="return-address-problem">
      <h2 id="address-problem-title">
        <span aria-hidden="true">⚠ </span>
        {open ? 'The return address of this job needs fixing' : 'Return address never fixed: drives marked for secure destruction'}
      </h2>
      <p>
        Operators flagged the return address as wrong or missing on <When at={problem.flaggedAt} />
        {problem.note ? (
          <>
            : <q data-testid="address-problem-note">{problem.note}</q>
          </>
        ) : (
          '.'
        )}
      </p>
      {open && problem.destroyDrivesAt && (
        <p data-testid="address-problem-deadline">
          Unless it is corrected, the drives will be <strong>securely destroyed</strong> after{' '}
          <strong>
            <When at={problem.destroyDrivesAt} />
          </strong>{' '}
          ({relative(new Date(problem.destroyDrivesAt))}).
        </p>
      )}
      {open && <p>The drives cannot be shipped back until the address is correct.</p>}
      {!open && (
        <p data-testid="address-problem-expired">
          It was not corrected in time, so on <When at={problem.expiredAt ?? ''} /> the drives were marked for secure destruction.
          Contact the data center at once if you still need them.
        </p>
      )}
      {open &&
        (onFix ? (
          <button type="button" onClick={onFix} aria-controls={fixControls}>
            <span aria-hidden="true">✎ </span>Fix the return address
          </button>
        ) : (
          <p className="muted">Someone allowed to update this job can fix it by saving a correct return address.</p>
        ))}
    </section>
  );
}

const ISSUE_LOOK: Record<string, { icon: string; text: string }> = {
  [ReturnIssueKind.Damaged]: { icon: '⚠', text: 'Damaged in return shipping' },
  [ReturnIssueKind.Lost]: { icon: '?', text: 'Lost in return shipping' },
};
const issueLook = (kind: string) => ISSUE_LOOK[kind] ?? { icon: '!', text: kind || 'Problem in return shipping' };

function ReturnIssueBlock({ issue, n, of }: { issue: ReturnIssue; n: number; of: number }) {
  const look = issueLook(issue.kind);
  const id = `return-issue-${n}`;
  const blobs = issue.blobs;
  const blobText = `${blobs.length} blob${blobs.length === 1 ? '' : 's'}`;
  return (
    <div className="return-issue" data-testid="return-issue">
      <h3 id={id}>
        <span aria-hidden="true">{look.icon} </span>
        {of > 1 ? `Problem ${n} of ${of}: ` : ''}
        {look.text}
      </h3>
      <div className="table-wrap">
        <table>
          <caption className="sr-only">Drives affected by problem {n}</caption>
          <thead>
            <tr>
              <th scope="col">Drive</th>
              <th scope="col">What happened</th>
              <th scope="col">When</th>
              <th scope="col">Note</th>
            </tr>
          </thead>
          <tbody>
            {(issue.driveIds.length ? issue.driveIds : ['']).map((driveId) => (
              <tr key={driveId || '-'}>
                <td className="mono">{driveId || '—'}</td>
                <td>
                  <span aria-hidden="true">{look.icon} </span>
                  {look.text}
                </td>
                <td>
                  <When at={issue.recordedAt} />
                </td>
                <td>{issue.note || '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {issue.advice && <p>{issue.advice}</p>}
      <h4 id={`${id}-blobs`}>Blobs to export again or download ({blobText})</h4>
      {blobs.length === 0 ? (
        <p className="muted">The operators listed no blobs for this problem: every blob of the affected drives may need exporting again.</p>
      ) : (
        <>
          <div className="blob-list" role="region" aria-labelledby={`${id}-blobs`} tabIndex={0}>
            <ul className="mono" data-testid="return-issue-blobs">
              {blobs.map((b, i) => (
                <li key={`${i}-${b}`}>{b}</li>
              ))}
            </ul>
          </div>
          <a download={`return-problem-${n}-blobs.txt`} href={`data:text/plain;charset=utf-8,${encodeURIComponent(`${blobs.join('\n')}\n`)}`}>
            Download the list of {blobText} (text file)
          </a>
        </>
      )}
    </div>
  );
}

export function ReturnIssues({ issues }: { issues: ReturnIssue[] }) {
  if (issues.length === 0) return null;
  return (
    <section className="card notice-warn" aria-labelledby="return-issues-title" data-testid="return-issues">
      <h2 id="return-issues-title">
        <span aria-hidden="true">⚠ </span>Problems in return shipping ({issues.length})
      </h2>
      {issues.map((issue, i) => (
        <ReturnIssueBlock key={`${i}-${issue.recordedAt}`} issue={issue} n={i + 1} of={issues.length} />
      ))}
    </section>
  );
}

export function DriveDestructionList({ drives, markedAt }: { drives: DriveDestruction[]; markedAt: string | null }) {
  if (drives.length === 0) return null;
  return (
    <section className="card" aria-labelledby="destruction-title" data-testid="drive-destruction">
      <h2 id="destruction-title">Secure destruction of drives</h2>
      <p>These drives could not be returned because nobody could be reached at the return address.</p>
      <ul className="destruction-list">
        {drives.map((d) => (
          <li key={d.driveId} data-drive={d.driveId} data-destroyed={d.destroyed}>
            <span className="mono">{d.driveId}</span>{' '}
            {d.destroyed ? (
              <span className="badge tone-bad">
                <span className="badge-icon" aria-hidden="true">✕</span>
                <span>Securely destroyed</span>
              </span>
            ) : (
              <span className="badge tone-warn">
                <span className="badge-icon" aria-hidden="true">◷</span>
                <span>
                  Due for secure destruction
                  {markedAt && (
                    <>
                      {' '}since <When at={markedAt} />
                    </>
                  )}
                </span>
              </span>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** All of the above for one Get Job payload. */
export function JobNotices({ job, onFixAddress, fixControls }: { job: JobResponse; onFixAddress?: () => void; fixControls?: string }) {
  const n = readJobNotices(job);
  if (!hasJobNotices(n)) return null;
  return (
    <div className="job-notices">
      {n.returnAddressProblem && <ReturnAddressNotice problem={n.returnAddressProblem} onFix={onFixAddress} fixControls={fixControls} />}
      <ReturnIssues issues={n.returnIssues} />
      <DriveDestructionList drives={n.destruction} markedAt={n.markedForDestructionAt} />
    </div>
  );
}

/** Opens a <details> of the page, brings it into view and puts the focus on its first field. */
export function revealDetails(id: string): void {
  const el = document.getElementById(id);
  if (!el) return;
  if (el.tagName === 'DETAILS') (el as HTMLDetailsElement).open = true;
  el.scrollIntoView?.({ block: 'start', behavior: 'smooth' });
  (el.querySelector('input, select, textarea, button') as HTMLElement | null)?.focus();
}
