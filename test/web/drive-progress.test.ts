// @vitest-environment happy-dom
/** The drive progress widget and the log table: numbers people read, told in text as well as bars. */
import { afterEach, describe, expect, it } from 'vitest';
import { act } from 'react';
import { DriveProgress } from '../../web/src/components/DriveProgress.tsx';
import { LogTable, parseDriveLog } from '../../web/src/components/LogTable.tsx';
import { etaMs, formatBytes, formatDuration, relative } from '../../web/src/format.ts';
import { driveLogSource } from '../../web/src/api.ts';
import { render, type Rendered } from './render.ts';

let r: Rendered | null = null;
afterEach(() => {
  r?.unmount();
  r = null;
});

describe('formatting', () => {
  it('formats bytes, durations, ETA and relative times', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1500)).toBe('1.5 KB');
    expect(formatBytes(2_000_000_000_000)).toBe('2.0 TB');
    expect(formatBytes(undefined)).toBe('—');
    expect(formatDuration(90_000)).toBe('1 min 30 s');
    expect(formatDuration(3 * 3600_000)).toBe('3 h');
    expect(etaMs(1000, 500, 100)).toBe(5000);
    expect(etaMs(1000, 1000, 100)).toBeNull();
    expect(etaMs(1000, 0, 0)).toBeNull();
    const now = new Date('2026-01-10T00:00:00Z');
    expect(relative(new Date('2026-01-19T00:00:00Z'), now)).toBe('in 9 days');
    expect(relative(new Date('2026-01-09T00:00:00Z'), now)).toBe('1 day ago');
  });
});

describe('<DriveProgress>', () => {
  it('shows bytes, objects (with failures), phase, rate and ETA, and an accessible progress bar', () => {
    r = render(DriveProgress, {
      drive: {
        driveId: 'D1', state: 'Transferring', percentComplete: 42, bytesTotal: 10_000_000_000, bytesSucceeded: 4_200_000_000,
        objectsTotal: 1000, objectsSucceeded: 420, objectsFailed: 3, phase: 'copying', rateBps: 100_000_000,
      },
    });
    const bar = r.container.querySelector('[role="progressbar"]')!;
    expect(bar.getAttribute('aria-valuenow')).toBe('42');
    expect(bar.getAttribute('aria-valuetext')).toContain('4.2 GB of 10.0 GB');
    expect(document.getElementById(bar.getAttribute('aria-labelledby')!)!.textContent).toContain('D1');
    const text = (id: string) => r!.container.querySelector(`[data-testid="${id}"]`)!.textContent;
    expect(text('bytes')).toBe('4.2 GB / 10.0 GB');
    expect(text('objects')).toContain('420 / 1000 done');
    expect(text('objects')).toContain('3 failed');
    expect(text('phase')).toBe('copying');
    expect(text('rate')).toBe('100 MB/s');
    expect(text('eta')).toBe('58 s');
    expect((r.container.querySelector('.bar-fill') as HTMLElement).style.width).toBe('42%');
  });

  it('clamps the percentage and says done when finished', () => {
    r = render(DriveProgress, { drive: { driveId: 'D2', state: 'Completed', percentComplete: 140, bytesTotal: 10, bytesSucceeded: 10 } });
    expect(r.container.querySelector('[role="progressbar"]')!.getAttribute('aria-valuenow')).toBe('100');
    expect(r.container.querySelector('[data-testid="eta"]')!.textContent).toBe('done');
    expect(r.container.querySelector('[data-testid="rate"]')!.textContent).toBe('—');
  });
});

const LOG = `<?xml version="1.0" encoding="UTF-8"?>
<DriveLog Version="2014-11-01">
  <DriveId>9CA995BB</DriveId>
  <Blob Status="Completed"><BlobPath>photos/b.jpg</BlobPath><FilePath>\\photos\\b.jpg</FilePath><Length>2000</Length>
    <ImportDisposition Status="Created">overwrite</ImportDisposition><BlockList><Block Offset="0" Length="2000" Status="Completed"/></BlockList></Blob>
  <Blob Status="CompletedWithErrors"><BlobPath>photos/a.jpg</BlobPath><FilePath>\\photos\\a.jpg</FilePath><Length>5000</Length>
    <BlockList><Block Offset="0" Length="4000" Status="Completed"/><Block Offset="4000" Length="1000" Status="Corrupted"/></BlockList></Blob>
  <Status>CompletedWithErrors</Status>
</DriveLog>`;

describe('<LogTable>', () => {
  it('renders a DriveLog as a sortable table', () => {
    const log = parseDriveLog(LOG);
    expect(log.driveId).toBe('9CA995BB');
    expect(log.rows).toHaveLength(2);
    r = render(LogTable, { title: 'Error log of drive 9CA995BB', log, downloadHref: 'blob:x' });
    const firstCells = () => [...r!.container.querySelectorAll('tbody tr')].map((tr) => tr.querySelector('td')!.textContent);
    expect(firstCells()).toEqual(['photos/a.jpg', 'photos/b.jpg']);
    const sizeButton = [...r.container.querySelectorAll('th button')].find((b) => b.textContent!.startsWith('Size'))! as HTMLButtonElement;
    act(() => sizeButton.click());
    expect(firstCells()).toEqual(['photos/b.jpg', 'photos/a.jpg']);
    act(() => sizeButton.click());
    expect(firstCells()).toEqual(['photos/a.jpg', 'photos/b.jpg']);
    expect(sizeButton.closest('th')!.getAttribute('aria-sort')).toBe('descending');
    expect(r.container.querySelector('[data-testid="log-status"]')!.textContent).toBe('CompletedWithErrors');
    expect(r.container.querySelector('tbody tr')!.textContent).toContain('1'); // one failed chunk
    expect(r.container.querySelector('a[download]')).not.toBeNull();
  });
});

describe('driveLogSource', () => {
  const job = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ImportExport/jobs/j';
  const here = 'https://console.example:8443/#/jobs/rg/j';
  it('reads a log on this server from its URI, and any other log (file://, another host) through the API log route', () => {
    expect(driveLogSource('https://console.example:8443/logs/x_error.xml', job, 'D1', 'error', here)).toBe('https://console.example:8443/logs/x_error.xml');
    expect(driveLogSource('/logs/x_error.xml', job, 'D1', 'error', here)).toBe('https://console.example:8443/logs/x_error.xml');
    expect(driveLogSource('file:///var/lib/sneakernet/blobs/waimportexport/waies/j_D1_error.xml', job, 'D1', 'error', here)).toBe(`${job}/drives/D1/logs/error?api-version=2021-01-01`);
    expect(driveLogSource('https://acct.blob.core.windows.net/waimportexport/waies/j_D 1_verbose.xml', job, 'D 1', 'verbose', here)).toBe(`${job}/drives/D%201/logs/verbose?api-version=2021-01-01`);
  });
});
