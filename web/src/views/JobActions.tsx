/** What the caller may do to a job from its page: the customer's actions, and the operator's on the job and its drives. */
import { useState, type FormEvent } from 'react';
import { JobState, DriveState } from '../../../src/domain/states.ts';
import { UNFAULT_JOB_TARGETS, UNFAULT_DRIVE_TARGETS, FAULTABLE_JOB_STATES } from '../../../src/domain/transitions.ts';
import { call, withVersion, type DriveStatus, type JobResponse } from '../api.ts';
import { useSession } from '../App.tsx';
import { ops } from '../ops.ts';
import { href } from '../router.ts';
import { AddressFields, emptyAddress, type Address } from './AddressFields.tsx';
import { ErrorLine, message } from './feedback.tsx';

export const FIX_ADDRESS_ID = 'fix-return-address';
export const canFixReturnAddress = (state: string) => (FAULTABLE_JOB_STATES as string[]).includes(state) && state !== JobState.Creating;

export function CustomerActions({ job, path, onDone }: { job: JobResponse; path: string; onDone: () => void }) {
  const session = useSession();
  const p = job.properties;
  const state = p.state ?? JobState.Creating;
  const [carrier, setCarrier] = useState('FedEx');
  const [tracking, setTracking] = useState('');
  const [count, setCount] = useState(String(p.driveList?.length ?? 1));
  const [shipDate, setShipDate] = useState(new Date().toISOString().slice(0, 10));
  const [address, setAddress] = useState<Address>(() => ({ ...emptyAddress, ...(p.returnAddress ?? {}) }));
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const patch = async (properties: Record<string, unknown>, done: string) => {
    setError(null);
    setNote(null);
    try {
      await call(session.token, 'PATCH', withVersion(path), { properties });
      setNote(done);
      onDone();
    } catch (e) {
      setError(message(e));
    }
  };
  const ship = (e: FormEvent) => {
    e.preventDefault();
    void patch(
      {
        deliveryPackage: { carrierName: carrier, trackingNumber: tracking, driveCount: Number(count), shipDate },
        ...(p.returnAddress ? {} : { returnAddress: address }),
        state: JobState.Shipping,
      },
      'Shipping information saved.',
    );
  };
  return (
    <div className="actions">
      <ErrorLine error={error} />
      {note && <p role="status" className="ok"><span aria-hidden="true">✓ </span>{note}</p>}
      {state === JobState.Creating && (
        <form onSubmit={ship} className="form" aria-labelledby="ship-title">
          <h3 id="ship-title">Add shipping information</h3>
          <div className="row">
            <label>Carrier<input name="carrierName" required value={carrier} onChange={(e) => setCarrier(e.target.value)} /></label>
            <label>Tracking number<input name="trackingNumber" required value={tracking} onChange={(e) => setTracking(e.target.value)} /></label>
          </div>
          <div className="row">
            <label>Drives in the package<input name="driveCount" type="number" min={0} value={count} onChange={(e) => setCount(e.target.value)} /></label>
            <label>Ship date<input name="shipDate" type="date" value={shipDate} onChange={(e) => setShipDate(e.target.value)} /></label>
          </div>
          {!p.returnAddress && (
            <fieldset>
              <legend>Return address</legend>
              <AddressFields value={address} onChange={setAddress} />
            </fieldset>
          )}
          <button type="submit">Mark as shipped</button>
        </form>
      )}
      {canFixReturnAddress(state) && (
        <details id={FIX_ADDRESS_ID}>
          <summary>Fix the return address</summary>
          <form
            className="form"
            onSubmit={(e) => {
              e.preventDefault();
              void patch({ returnAddress: address }, 'Return address updated.');
            }}
          >
            <AddressFields value={address} onChange={setAddress} />
            <button type="submit">Save return address</button>
          </form>
        </details>
      )}
      {!p.cancelRequested && (FAULTABLE_JOB_STATES as string[]).includes(state) && (
        <button
          type="button"
          className="danger"
          onClick={() => {
            if (window.confirm(`Cancel job ${job.name}? Drives not yet copying are skipped and shipped back.`)) void patch({ cancelRequested: true }, 'Cancellation requested.');
          }}
        >
          <span aria-hidden="true">✕ </span>Cancel job
        </button>
      )}
      <p>
        <a href={href.webhooks()}>Manage webhooks</a>
      </p>
    </div>
  );
}

export function OperatorJobActions({ job, jobRef, onDone }: { job: JobResponse; jobRef: { subscriptionId: string; resourceGroup: string; name: string }; onDone: () => void }) {
  const session = useSession();
  const state = job.properties.state ?? '';
  const [reason, setReason] = useState('');
  const [target, setTarget] = useState<string>(UNFAULT_JOB_TARGETS[0]);
  const [carrier, setCarrier] = useState('FedEx');
  const [tracking, setTracking] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const run = async (f: () => Promise<unknown>, done: string) => {
    setError(null);
    setNote(null);
    try {
      await f();
      setNote(done);
      onDone();
    } catch (e) {
      setError(message(e));
    }
  };
  return (
    <div className="actions operator" aria-label="Operator actions">
      <h3>Operator</h3>
      <ErrorLine error={error} />
      {note && <p role="status" className="ok"><span aria-hidden="true">✓ </span>{note}</p>}
      {state === JobState.Packaging && (
        <form
          className="form"
          onSubmit={(e) => {
            e.preventDefault();
            void run(
              () => ops.shipBack(session.token, jobRef, { carrierName: carrier, trackingNumber: tracking, driveCount: job.properties.driveList?.length ?? 0, shipDate: new Date().toISOString().slice(0, 10) }),
              'Return shipment recorded.',
            );
          }}
        >
          <h4>Ship back</h4>
          <div className="row">
            <label>Return carrier<input name="returnCarrier" required value={carrier} onChange={(e) => setCarrier(e.target.value)} /></label>
            <label>Return tracking number<input name="returnTracking" required value={tracking} onChange={(e) => setTracking(e.target.value)} /></label>
          </div>
          <button type="submit">Record return shipment</button>
        </form>
      )}
      <label>
        Reason (for fault or unfault)
        <input name="faultReason" value={reason} onChange={(e) => setReason(e.target.value)} />
      </label>
      {(FAULTABLE_JOB_STATES as string[]).includes(state) && (
        <button type="button" className="danger" disabled={!reason} onClick={() => void run(() => ops.faultJob(session.token, jobRef, reason), 'Job faulted.')}>
          <span aria-hidden="true">⚠ </span>Fault job
        </button>
      )}
      {state === JobState.Faulted && (
        <div className="row">
          <label>
            Continue in
            <select value={target} onChange={(e) => setTarget(e.target.value)} name="unfaultTarget">
              {UNFAULT_JOB_TARGETS.map((s) => (
                <option key={s} value={s}>{s}</option>
              ))}
            </select>
          </label>
          <button type="button" disabled={!reason} onClick={() => void run(() => ops.unfaultJob(session.token, jobRef, target, reason), `Job continues in ${target}.`)}>
            Unfault job
          </button>
        </div>
      )}
    </div>
  );
}

export function OperatorDriveActions({ jobRef, drive, onDone }: { jobRef: { subscriptionId: string; resourceGroup: string; name: string }; drive: DriveStatus; onDone: () => void }) {
  const session = useSession();
  const [reason, setReason] = useState('');
  const [target, setTarget] = useState<string>(UNFAULT_DRIVE_TARGETS[0]);
  const [error, setError] = useState<string | null>(null);
  const run = async (f: () => Promise<unknown>) => {
    setError(null);
    try {
      await f();
      onDone();
    } catch (e) {
      setError(message(e));
    }
  };
  return (
    <details className="operator">
      <summary>Operator: drive {drive.driveId}</summary>
      <ErrorLine error={error} />
      <div className="row">
        <label>
          Reason
          <input value={reason} onChange={(e) => setReason(e.target.value)} name={`reason-${drive.driveId}`} />
        </label>
        {drive.state === DriveState.Faulted ? (
          <>
            <label>
              Continue in
              <select value={target} onChange={(e) => setTarget(e.target.value)}>
                {UNFAULT_DRIVE_TARGETS.map((s) => (
                  <option key={s} value={s}>{s}</option>
                ))}
              </select>
            </label>
            <button type="button" disabled={!reason} onClick={() => void run(() => ops.unfaultDrive(session.token, jobRef, drive.driveId, target, reason))}>
              Unfault drive
            </button>
          </>
        ) : (
          <button type="button" className="danger" disabled={!reason} onClick={() => void run(() => ops.faultDrive(session.token, jobRef, drive.driveId, reason))}>
            Fault drive
          </button>
        )}
      </div>
      <a href={href.certificate(drive.driveId)}>Custody certificate</a>
    </details>
  );
}
