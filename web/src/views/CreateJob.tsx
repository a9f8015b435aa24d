/**
 * Create an import or export job (ARM PUT). Validation is the API's: its error message is shown, and the field it
 * names (`target`) is marked and focused, so the console says exactly what the API says.
 */
import { useRef, useState, type FormEvent } from 'react';
import { JobType, LogLevel } from '../../../src/domain/states.ts';
import { ApiFailure, call, jobPath, withVersion } from '../api.ts';
import { useSession } from '../App.tsx';
import { href } from '../router.ts';
import { AddressFields, emptyAddress, type Address } from './AddressFields.tsx';

interface DriveInput {
  driveId: string;
  bitLockerKey: string;
  manifestFile: string;
  manifestHash: string;
  driveHeaderHash: string;
}
const newDrive = (): DriveInput => ({ driveId: '', bitLockerKey: '', manifestFile: '\\DriveManifest.xml', manifestHash: '', driveHeaderHash: '' });

export function CreateJob() {
  const session = useSession();
  const [name, setName] = useState('');
  const [rg, setRg] = useState('default');
  const [location, setLocation] = useState('West US');
  const [jobType, setJobType] = useState<string>(JobType.Import);
  const [account, setAccount] = useState(`/subscriptions/${session.subscriptionId}/resourceGroups/default/providers/Microsoft.Storage/storageAccounts/local`);
  const [drives, setDrives] = useState<DriveInput[]>([newDrive()]);
  const [prefixes, setPrefixes] = useState('/');
  const [logLevel, setLogLevel] = useState<string>(LogLevel.Error);
  const [withAddress, setWithAddress] = useState(false);
  const [address, setAddress] = useState<Address>(emptyAddress);
  const [error, setError] = useState<ApiFailure | Error | null>(null);
  const [busy, setBusy] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const properties: Record<string, unknown> = {
      jobType,
      storageAccountId: account,
      logLevel,
      diagnosticsPath: 'waimportexport',
      ...(withAddress ? { returnAddress: address } : {}),
    };
    if (jobType === JobType.Import) properties.driveList = drives.map((d) => Object.fromEntries(Object.entries(d).filter(([, v]) => v !== '')));
    else properties.export = { blobList: { blobPathPrefix: prefixes.split('\n').map((s) => s.trim()).filter(Boolean) } };
    try {
      await call(session.token, 'PUT', withVersion(jobPath(session.subscriptionId, rg, name)), { location, properties });
      window.location.hash = href.job(rg, name);
    } catch (err) {
      setError(err as Error);
      const target = err instanceof ApiFailure ? err.target : undefined;
      if (target) {
        const leaf = target.split('.').pop()!.replace(/\[\d+\]/, '');
        formRef.current?.querySelector<HTMLElement>(`[data-field="${target}"], [data-field="${leaf}"], [name$="${leaf}"]`)?.focus();
      }
    } finally {
      setBusy(false);
    }
  };

  const setDrive = (i: number, k: keyof DriveInput, v: string) => setDrives((ds) => ds.map((d, j) => (j === i ? { ...d, [k]: v } : d)));
  return (
    <section aria-labelledby="new-title">
      <h1 id="new-title" tabIndex={-1}>New job</h1>
      <form ref={formRef} className="form card" onSubmit={submit} noValidate>
        {error && (
          <div className="error" role="alert" data-testid="create-error">
            <span aria-hidden="true">⚠ </span>
            {error.message}
            {error instanceof ApiFailure && (
              <>
                {' '}
                <code>{error.code}</code>
                {error.target && <> — field <code>{error.target}</code></>}
                {error.details?.length ? (
                  <ul>
                    {error.details.map((d, i) => (
                      <li key={i}>{d.message}{d.target ? ` (${d.target})` : ''}</li>
                    ))}
                  </ul>
                ) : null}
              </>
            )}
          </div>
        )}
        <fieldset>
          <legend>Job type</legend>
          {[JobType.Import, JobType.Export].map((t) => (
            <label key={t} className="inline">
              <input type="radio" name="jobType" value={t} checked={jobType === t} onChange={() => setJobType(t)} />
              {t === JobType.Import ? ' Import (drives → storage)' : ' Export (storage → drives)'}
            </label>
          ))}
        </fieldset>
        <div className="row">
          <label>Job name<input name="jobName" data-field="jobName" value={name} onChange={(e) => setName(e.target.value)} aria-describedby="name-help" /></label>
          <label>Resource group<input name="resourceGroupName" data-field="resourceGroupName" value={rg} onChange={(e) => setRg(e.target.value)} /></label>
          <label>Location<input name="location" data-field="location" value={location} onChange={(e) => setLocation(e.target.value)} /></label>
        </div>
        <p id="name-help" className="muted">3–64 characters: a letter first, then letters, digits, - or _.</p>
        <label>Storage account (ARM id)<input name="storageAccountId" data-field="storageAccountId" value={account} onChange={(e) => setAccount(e.target.value)} /></label>
        {jobType === JobType.Import ? (
          <fieldset>
            <legend>Drives</legend>
            {drives.map((d, i) => (
              <div key={i} className="drive-input" role="group" aria-label={`Drive ${i + 1}`}>
                <label>Drive id (serial number)<input name={`driveList[${i}].driveId`} data-field={`driveList[${i}].driveId`} value={d.driveId} onChange={(e) => setDrive(i, 'driveId', e.target.value)} /></label>
                <label>BitLocker key<input name={`driveList[${i}].bitLockerKey`} value={d.bitLockerKey} onChange={(e) => setDrive(i, 'bitLockerKey', e.target.value)} autoComplete="off" /></label>
                <label>Manifest file<input name={`driveList[${i}].manifestFile`} value={d.manifestFile} onChange={(e) => setDrive(i, 'manifestFile', e.target.value)} /></label>
                <label>Manifest hash<input name={`driveList[${i}].manifestHash`} value={d.manifestHash} onChange={(e) => setDrive(i, 'manifestHash', e.target.value)} /></label>
                <label>Drive header hash (optional)<input name={`driveList[${i}].driveHeaderHash`} value={d.driveHeaderHash} onChange={(e) => setDrive(i, 'driveHeaderHash', e.target.value)} /></label>
                {drives.length > 1 && (
                  <button type="button" className="link" onClick={() => setDrives((ds) => ds.filter((_, j) => j !== i))}>
                    Remove drive {i + 1}
                  </button>
                )}
              </div>
            ))}
            <button type="button" onClick={() => setDrives((ds) => [...ds, newDrive()])} disabled={drives.length >= 10}>
              + Add a drive
            </button>
          </fieldset>
        ) : (
          <label>
            Blob path prefixes to export (one per line)
            <textarea name="blobPathPrefix" data-field="export" rows={3} value={prefixes} onChange={(e) => setPrefixes(e.target.value)} />
          </label>
        )}
        <label>
          Log level
          <select name="logLevel" value={logLevel} onChange={(e) => setLogLevel(e.target.value)}>
            {[LogLevel.Error, LogLevel.Verbose].map((l) => (
              <option key={l} value={l}>{l}</option>
            ))}
          </select>
        </label>
        <label className="inline">
          <input type="checkbox" checked={withAddress} onChange={(e) => setWithAddress(e.target.checked)} name="withAddress" /> Add the return address now
        </label>
        {withAddress && (
          <fieldset>
            <legend>Return address</legend>
            <AddressFields value={address} onChange={setAddress} />
          </fieldset>
        )}
        <button type="submit" disabled={busy}>{busy ? 'Creating…' : 'Create job'}</button>
      </form>
    </section>
  );
}
