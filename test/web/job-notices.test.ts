// @vitest-environment happy-dom
/**
 * The job page's operator notices: a return address flagged as wrong or missing, drives damaged or lost in return
 * shipping, drives due for or past secure destruction. The Get Job payloads come from the API's own serializer, with
 * the job extensions shaped as the operator code and the timer sweep write them.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { act, createElement } from 'react';
import { jobToArm } from '../../src/api/arm/serializers.ts';
import { ReturnIssueKind, UNREACHABLE_DESTRUCTION_MS } from '../../src/domain/custody.ts';
import { DriveState, JobState, JobType } from '../../src/domain/states.ts';
import { DAY_MS } from '../../src/domain/timers.ts';
import type { DriveRecord, JobRecord } from '../../src/store/records.ts';
import type { JobResponse } from '../../web/src/api.ts';
import { JobNotices, revealDetails } from '../../web/src/components/JobNotices.tsx';
import { formatTime } from '../../web/src/format.ts';
import { hasJobNotices, readJobNotices } from '../../web/src/jobNotices.ts';
import { render, type Rendered } from './render.ts';

let r: Rendered | null = null;
afterEach(() => {
  r?.unmount();
  r = null;
  document.body.innerHTML = '';
});

const NOW = Date.now();
const at = (msFromNow: number) => new Date(NOW + msFromNow);

function jobRecord(state: JobState, extensions: Record<string, unknown>, jobType: JobType = JobType.Import): JobRecord {
  const t = at(-2 * DAY_MS);
  return {
    id: 7, subscriptionId: 'sub-1', resourceGroup: 'rg', name: 'photos-2026', location: 'westeurope', jobType, state,
    stateReason: { code: 'x', message: 'x' }, faultedFrom: null, cancelRequested: false,
    storageAccountId: '/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct',
    returnAddress: { recipientName: 'Ana', streetAddress1: '1 Nowhere St', city: 'Oslo', postalCode: '0150', countryOrRegion: 'NO', phone: '1', email: 'a@example.com' },
    returnShipping: { carrierName: 'FedEx', carrierAccountNumber: '123' }, shippingInformation: null,
    deliveryPackage: { carrierName: 'FedEx', trackingNumber: 'IN-1', driveCount: 2, shipDate: '2026-01-02' }, returnPackage: null,
    diagnosticsPath: 'waimportexport', logLevel: null, backupDriveManifest: false,
    exportSpec: jobType === JobType.Export ? { blobList: { blobPathPrefix: ['/photos/'] } } : null,
    encryptionKey: null, identity: null, incompleteBlobListUri: null, tags: {}, extensions, percentComplete: 100, version: 9,
    stateEnteredAt: t, deadlineAt: null, deadlineKind: null, shippingAlertedAt: null, shippingExtendedUntil: null,
    createdAt: t, createdBy: 'owner', updatedAt: t, updatedBy: 'operator',
  };
}

function driveRecord(driveId: string, state: DriveState): DriveRecord {
  return {
    jobId: 7, driveId, position: 0, state, stateReason: { code: 'x', message: 'x' }, faultedFrom: null, bitLockerKeyCipher: null,
    manifestFile: '\\DriveManifest.xml', manifestHash: null, driveHeaderHash: null, bytesTotal: 10, bytesSucceeded: 10,
    objectsTotal: 1, objectsSucceeded: 1, objectsFailed: 0, objectsSkipped: 0, percentComplete: 100, phase: null, rateBps: 0,
    copyStatus: 'Completed', hasErrors: false, errorLogUri: null, verboseLogUri: null, manifestUri: null, isExtra: false,
    leaseOwner: null, leaseExpiresAt: null, stateEnteredAt: at(-DAY_MS),
  };
}

/** What Get Job sends (through JSON, as the console receives it). */
const getJob = (job: JobRecord, drives: DriveRecord[]) => JSON.parse(JSON.stringify(jobToArm(job, drives))) as JobResponse;

const DRIVES = ['9CA995BB', '9CA995BC'];

// flagReturnAddress: { flaggedAt, note, destroyDrivesAt = flaggedAt + 90 days }
const flaggedAt = at(-DAY_MS + 3_600_000);
const flagged = getJob(
  jobRecord(JobState.Packaging, {
    returnAddressProblem: { flaggedAt: flaggedAt.toISOString(), note: 'No such street in Oslo.', destroyDrivesAt: new Date(flaggedAt.getTime() + UNREACHABLE_DESTRUCTION_MS).toISOString() },
  }),
  DRIVES.map((d) => driveRecord(d, DriveState.Completed)),
);

// The sweep after 90 days: the flag loses destroyDrivesAt and gains expiredAt, the drives are due; one destroyed since.
const oldFlag = at(-95 * DAY_MS);
const expiredAt = at(-5 * DAY_MS);
const expired = getJob(
  jobRecord(JobState.Packaging, {
    returnAddressProblem: { flaggedAt: oldFlag.toISOString(), note: 'Address missing.', expiredAt: expiredAt.toISOString() },
    drivesDueForDestruction: DRIVES,
    destroyedDrives: [DRIVES[0]],
  }),
  DRIVES.map((d) => driveRecord(d, DriveState.Completed)),
);

// recordReturnDamage, twice: damaged with blobs, then lost without a blob list.
const ADVICE = 'Check the return tracking with the carrier; create another export job for the listed blobs, or download them.';
const BLOBS = Array.from({ length: 60 }, (_, i) => `photos/2026/img-${String(i).padStart(3, '0')}.jpg`);
const damagedAt = at(-3 * DAY_MS);
const lostAt = at(-DAY_MS);
const withIssues = getJob(
  jobRecord(JobState.Completed, {
    returnIssues: [
      { kind: ReturnIssueKind.Damaged, driveIds: DRIVES, blobs: BLOBS, note: 'Box crushed, both drives bent.', recordedAt: damagedAt.toISOString(), advice: ADVICE },
      { kind: ReturnIssueKind.Lost, driveIds: [DRIVES[1]], blobs: [], note: 'Carrier lost the parcel.', recordedAt: lostAt.toISOString(), advice: ADVICE },
    ],
  }, JobType.Export),
  DRIVES.map((d) => driveRecord(d, DriveState.ShippedBack)),
);

const plain = getJob(jobRecord(JobState.Completed, {}), DRIVES.map((d) => driveRecord(d, DriveState.ShippedBack)));

const q = (sel: string) => r!.container.querySelector(sel);
const qa = (sel: string) => [...r!.container.querySelectorAll(sel)];
const text = (sel: string) => q(sel)?.textContent?.replace(/\s+/g, ' ').trim() ?? null;

describe('Get Job payloads', () => {
  it('carries the operator facts in properties.sneakernet, as the notices read them', () => {
    expect(flagged.properties.sneakernet?.returnAddressProblem).toMatchObject({ note: 'No such street in Oslo.' });
    const n = readJobNotices(expired);
    expect(n.destruction).toEqual([{ driveId: DRIVES[0], destroyed: true }, { driveId: DRIVES[1], destroyed: false }]);
    expect(n.markedForDestructionAt).toBe(expiredAt.toISOString());
    expect(readJobNotices(withIssues).returnIssues.map((i) => [i.kind, i.driveIds.length, i.blobs.length])).toEqual([
      [ReturnIssueKind.Damaged, 2, 60],
      [ReturnIssueKind.Lost, 1, 0],
    ]);
    expect(hasJobNotices(readJobNotices(plain))).toBe(false);
    expect(plain.properties.sneakernet).toBeDefined();
  });
});

describe('<JobNotices>', () => {
  it('renders nothing when the job has no return address problem, return issue or destruction', () => {
    r = render(JobNotices, { job: plain, onFixAddress: () => {} });
    expect(r.container.innerHTML).toBe('');
  });

  it('tells what is wrong with the return address, since when, the destruction date, and opens the fix form', () => {
    const onFixAddress = vi.fn();
    r = render(JobNotices, { job: flagged, onFixAddress, fixControls: 'fix-return-address' });
    const notice = q('[data-testid="return-address-problem"]')!;
    expect(notice.querySelector('h2')!.textContent).toContain('The return address of this job needs fixing');
    expect(notice.querySelector('h2 [aria-hidden="true"]')!.textContent).toContain('⚠');
    expect(text('[data-testid="address-problem-note"]')).toBe('No such street in Oslo.');
    expect(notice.textContent).toContain(`flagged the return address as wrong or missing on ${formatTime(flaggedAt)}`);
    const destroyAt = flagged.properties.sneakernet!.returnAddressProblem!.destroyDrivesAt!;
    expect(text('[data-testid="address-problem-deadline"]')).toBe(`Unless it is corrected, the drives will be securely destroyed after ${formatTime(destroyAt)} (in 89 days).`);
    expect(notice.querySelector(`time[datetime="${destroyAt}"]`)).not.toBeNull();
    expect(notice.textContent).toContain('cannot be shipped back until the address is correct');
    const button = notice.querySelector('button')!;
    expect(button.textContent).toContain('Fix the return address');
    expect(button.getAttribute('aria-controls')).toBe('fix-return-address');
    act(() => button.click());
    expect(onFixAddress).toHaveBeenCalledOnce();
    expect(q('[data-testid="return-issues"]')).toBeNull();
    expect(q('[data-testid="drive-destruction"]')).toBeNull();
  });

  it('without a way to fix it here (a read-only token), says who can fix it instead of offering a button', () => {
    r = render(JobNotices, { job: flagged });
    expect(q('[data-testid="return-address-problem"] button')).toBeNull();
    expect(text('[data-testid="return-address-problem"]')).toContain('Someone allowed to update this job can fix it');
  });

  it('after 90 days unanswered: the notice says the drives were marked, and each drive says due or destroyed in text and icon', () => {
    r = render(JobNotices, { job: expired, onFixAddress: () => {} });
    const notice = q('[data-testid="return-address-problem"]')!;
    expect(notice.querySelector('h2')!.textContent).toContain('drives marked for secure destruction');
    expect(text('[data-testid="address-problem-expired"]')).toContain(`on ${formatTime(expiredAt)} the drives were marked for secure destruction`);
    expect(text('[data-testid="address-problem-note"]')).toBe('Address missing.');
    expect(notice.querySelector('button')).toBeNull(); // the flag expired: a new address no longer saves the drives
    expect(q('[data-testid="address-problem-deadline"]')).toBeNull();
    const rows = qa('[data-testid="drive-destruction"] li');
    expect(rows.map((li) => li.getAttribute('data-drive'))).toEqual(DRIVES);
    expect(rows[0].textContent).toBe(`${DRIVES[0]} ✕Securely destroyed`);
    expect(rows[1].textContent).toBe(`${DRIVES[1]} ◷Due for secure destruction since ${formatTime(expiredAt)}`);
    for (const li of rows) expect(li.querySelector('[aria-hidden="true"]')!.textContent).toMatch(/[✕◷]/);
  });

  it('lists each return shipping problem in a table, with the blobs to export again or download', () => {
    r = render(JobNotices, { job: withIssues });
    expect(text('#return-issues-title')).toBe('⚠ Problems in return shipping (2)');
    const [damaged, lost] = qa('[data-testid="return-issue"]');
    expect(damaged.querySelector('h3')!.textContent).toBe('⚠ Problem 1 of 2: Damaged in return shipping');
    const headers = [...damaged.querySelectorAll('thead th')].map((th) => th.textContent);
    expect(headers).toEqual(['Drive', 'What happened', 'When', 'Note']);
    const cells = [...damaged.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent));
    expect(cells).toEqual(DRIVES.map((d) => [d, '⚠ Damaged in return shipping', formatTime(damagedAt), 'Box crushed, both drives bent.']));
    expect(damaged.textContent).toContain(ADVICE);
    expect(damaged.querySelector('h4')!.textContent).toBe('Blobs to export again or download (60 blobs)');
    const region = damaged.querySelector('.blob-list')!;
    expect(region.getAttribute('role')).toBe('region');
    expect(region.getAttribute('tabindex')).toBe('0');
    expect(document.getElementById(region.getAttribute('aria-labelledby')!)!.textContent).toContain('60 blobs');
    expect([...region.querySelectorAll('li')].map((li) => li.textContent)).toEqual(BLOBS);
    const download = damaged.querySelector('a[download]')!;
    expect(download.textContent).toBe('Download the list of 60 blobs (text file)');
    expect(decodeURIComponent(download.getAttribute('href')!.split(',')[1])).toBe(`${BLOBS.join('\n')}\n`);

    expect(lost.querySelector('h3')!.textContent).toBe('? Problem 2 of 2: Lost in return shipping');
    expect([...lost.querySelectorAll('tbody td')].map((td) => td.textContent)).toEqual([DRIVES[1], '? Lost in return shipping', formatTime(lostAt), 'Carrier lost the parcel.']);
    expect(lost.querySelector('h4')!.textContent).toBe('Blobs to export again or download (0 blobs)');
    expect(lost.textContent).toContain('listed no blobs');
    expect(lost.querySelector('.blob-list')).toBeNull();
    expect(q('[data-testid="return-address-problem"]')).toBeNull();
    expect(q('[data-testid="drive-destruction"]')).toBeNull();
  });
});

describe('revealDetails', () => {
  it('opens the fix form and puts the focus in its first field', () => {
    r = render(() => createElement('details', { id: 'fix-return-address' }, createElement('summary', null, 'Fix the return address'), createElement('input', { name: 'recipientName', 'aria-label': 'Recipient' })), {});
    const details = document.getElementById('fix-return-address') as HTMLDetailsElement;
    expect(details.open).toBe(false);
    revealDetails('fix-return-address');
    expect(details.open).toBe(true);
    expect(document.activeElement?.getAttribute('name')).toBe('recipientName');
    revealDetails('not-on-this-page'); // no such element: nothing happens
  });
});
