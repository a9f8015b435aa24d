/**
 * A DriveLog (the documented error/verbose log XML) as a sortable table, with a download link for the raw file.
 */
import { useMemo, useState } from 'react';
import { formatBytes } from '../format.ts';

export interface LogRow {
  blobPath: string;
  filePath: string;
  length: number;
  status: string;
  disposition: string;
  problems: number;
}
export interface ParsedLog {
  driveId: string;
  status: string;
  rows: LogRow[];
}

export function parseDriveLog(xml: string): ParsedLog {
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  if (doc.getElementsByTagName('parsererror').length) throw new Error('The log is not well-formed XML.');
  const root = doc.documentElement;
  const child = (el: Element, name: string) => Array.from(el.children).find((c) => c.localName === name);
  const text = (el: Element, name: string) => child(el, name)?.textContent?.trim() ?? '';
  const rows: LogRow[] = Array.from(root.children)
    .filter((c) => c.localName === 'Blob')
    .map((b) => {
      const disp = child(b, 'ImportDisposition');
      const chunks = Array.from(b.querySelectorAll('Block, PageRange')).filter((c) => {
        const s = c.getAttribute('Status');
        return s && s !== 'Completed';
      });
      return {
        blobPath: text(b, 'BlobPath'),
        filePath: text(b, 'FilePath'),
        length: Number(text(b, 'Length') || 0),
        status: b.getAttribute('Status') ?? '',
        disposition: disp ? `${disp.getAttribute('Status') ?? ''}${disp.textContent?.trim() ? ` (${disp.textContent.trim()})` : ''}` : '',
        problems: chunks.length,
      };
    });
  return { driveId: text(root, 'DriveId'), status: text(root, 'Status'), rows };
}

type Key = keyof LogRow;
const COLUMNS: Array<{ key: Key; label: string }> = [
  { key: 'blobPath', label: 'Blob' },
  { key: 'filePath', label: 'File on drive' },
  { key: 'length', label: 'Size' },
  { key: 'status', label: 'Status' },
  { key: 'disposition', label: 'Disposition' },
  { key: 'problems', label: 'Failed chunks' },
];

export function LogTable({ title, log, downloadHref, downloadName }: { title: string; log: ParsedLog; downloadHref?: string; downloadName?: string }) {
  const [sort, setSort] = useState<{ key: Key; dir: 1 | -1 }>({ key: 'blobPath', dir: 1 });
  const rows = useMemo(
    () =>
      [...log.rows].sort((a, b) => {
        const x = a[sort.key];
        const y = b[sort.key];
        return (typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y))) * sort.dir;
      }),
    [log, sort],
  );
  return (
    <section className="log" aria-label={title}>
      <div className="log-head">
        <h4>{title}</h4>
        <span>
          Drive status: <strong data-testid="log-status">{log.status || '—'}</strong> · {log.rows.length} blob{log.rows.length === 1 ? '' : 's'}
        </span>
        {downloadHref && (
          <a href={downloadHref} download={downloadName ?? 'drive-log.xml'}>
            Download XML
          </a>
        )}
      </div>
      <div className="table-wrap">
        <table>
          <caption className="sr-only">{title}</caption>
          <thead>
            <tr>
              {COLUMNS.map((c) => (
                <th key={c.key} aria-sort={sort.key === c.key ? (sort.dir === 1 ? 'ascending' : 'descending') : 'none'} scope="col">
                  <button type="button" className="sort" onClick={() => setSort((s) => ({ key: c.key, dir: s.key === c.key ? (s.dir === 1 ? -1 : 1) : 1 }))}>
                    {c.label}
                    <span aria-hidden="true">{sort.key === c.key ? (sort.dir === 1 ? ' ▲' : ' ▼') : ' ↕'}</span>
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.length === 0 && (
              <tr>
                <td colSpan={COLUMNS.length}>No blobs listed in this log.</td>
              </tr>
            )}
            {rows.map((r, i) => (
              <tr key={`${r.blobPath}-${i}`}>
                <td className="mono">{r.blobPath}</td>
                <td className="mono">{r.filePath}</td>
                <td>{formatBytes(r.length)}</td>
                <td>{r.status}</td>
                <td>{r.disposition || '—'}</td>
                <td>{r.problems}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
