/**
 * The custody timers, swept in batches like the job timers (see sweep.ts): held drives (14 days → return them,
 * 90 days → secure destruction) and return address flags (90 days unanswered → drives due for destruction).
 */
import { sql } from 'kysely';
import { DomainError } from '../domain/errors.ts';
import { AddressFlagState, CustodyKind, HeldDeadlineKind, HeldDriveEvent, HeldDriveState, TaskKind, TaskStatus, decideHeldDrive, nextHeldDeadline } from '../domain/custody.ts';
import { DriveState } from '../domain/states.ts';
import { inTx, openTask, recordCustody, type CustodyInput, type NewTask } from '../operator/common.ts';
import { addressHash, resolveAddressFlag } from '../operator/jobs.ts';
import { toDate, fromJson } from '../operator/schema.ts';
import type { Store } from '../store/store.ts';
import type { JobRow } from '../store/schema.ts';
import { afterCursor, applyChangesInTx, cursorOf, insertOutbox, iso, openTasks, type BatchItem, type Cursor, type OutboxRow } from './batches.ts';

const UNCLAIMED_NOTE = 'Unclaimed for 90 days.';

/**
 * Claims a batch of due held drives (FOR UPDATE SKIP LOCKED) and applies them in the claiming transaction, set-based:
 * one UPDATE of held_drives, one INSERT of custody records, one of operator tasks with their notifications, one of
 * customer notices. Per drive it does what `changeHeld` and `openTask` did one row at a time: after 14 days the
 * "return it" task (and the next deadline, destruction at 90 days); after 90 days the custody table's
 * MarkForDestruction, the destruction task and, for a known job, the customer's notice.
 */
export async function claimHeldBatch(store: Store, now: Date, limit: number, after: Cursor) {
  return inTx(store, async (tx) => {
    let q = tx.selectFrom('held_drives').selectAll().where('deadline_at', '<=', now);
    if (after) q = q.where(afterCursor(after));
    const rows = await q.orderBy('deadline_at').orderBy('id').limit(limit).forUpdate().skipLocked().execute();
    const out = { returnAlerts: 0, dueForDestruction: 0, skipped: 0, dueAgain: 0, claimed: rows.length, last: cursorOf(rows) };
    const updates: Record<string, unknown>[] = [];
    const custody: CustodyInput[] = [];
    const tasks: NewTask[] = [];
    const notices: OutboxRow[] = [];
    for (const row of rows) {
      const id = Number(row.id);
      if (row.state !== HeldDriveState.Held) {
        out.skipped++;
        continue;
      }
      const receivedAt = toDate(row.received_at);
      const jobId = row.job_id == null ? null : Number(row.job_id);
      const base = { jobId, subscriptionId: row.subscription_id, jobName: row.job_name, heldDriveId: id, driveIds: [row.drive_id], by: 'timer' };
      const keep = {
        id, from_state: row.state, state: row.state, return_alerted_at: row.return_alerted_at == null ? null : iso(toDate(row.return_alerted_at)),
        resolved_at: row.resolved_at == null ? null : iso(toDate(row.resolved_at)), resolved_by: row.resolved_by, note: row.note,
      };
      if (row.deadline_kind === HeldDeadlineKind.ReturnHeld) {
        const next = nextHeldDeadline({ state: HeldDriveState.Held, receivedAt, returnAlertedAt: now });
        updates.push({ ...keep, return_alerted_at: iso(now), deadline_at: iso(next?.at), deadline_kind: next?.kind ?? null });
        if (next && next.at <= now) out.dueAgain++;
        tasks.push({
          ...base, kind: TaskKind.ReturnHeldDrives, dedupeKey: `returnHeld:${id}`,
          title: `Held drive ${row.drive_id}${row.job_name ? ` (job ${row.job_name})` : ''}: no answer for 14 days, return it to the sender.`,
        });
        out.returnAlerts++;
      } else if (row.deadline_kind === HeldDeadlineKind.DestroyUnclaimed) {
        let to: HeldDriveState;
        try {
          to = decideHeldDrive(row.state as HeldDriveState, HeldDriveEvent.MarkForDestruction);
        } catch (e) {
          if (!(e instanceof DomainError)) throw e;
          out.skipped++;
          continue;
        }
        const next = nextHeldDeadline({ state: to, receivedAt, returnAlertedAt: row.return_alerted_at == null ? null : toDate(row.return_alerted_at) });
        const terminal = to !== HeldDriveState.Held && to !== HeldDriveState.DueForDestruction;
        updates.push({
          ...keep, state: to, deadline_at: iso(next?.at), deadline_kind: next?.kind ?? null,
          resolved_at: terminal ? iso(now) : null, resolved_by: terminal ? 'timer' : null, note: UNCLAIMED_NOTE,
        });
        custody.push({ driveId: row.drive_id, kind: CustodyKind.MarkedForDestruction, jobId, subscriptionId: row.subscription_id, jobName: row.job_name, heldDriveId: id, by: 'timer', detail: { note: UNCLAIMED_NOTE } });
        tasks.push({
          ...base, kind: TaskKind.DestroyDrives, dedupeKey: `destroyHeld:${id}`,
          title: `Held drive ${row.drive_id} could not be returned and nobody answered for 90 days: securely destroy it and record the certificate.`,
        });
        if (row.subscription_id && jobId != null) {
          notices.push({
            subscription_id: row.subscription_id, job_id: jobId, topic: 'job.drivesDueForDestruction',
            payload: JSON.stringify({ jobName: row.job_name, driveIds: [row.drive_id], message: 'The held drive was unclaimed for 90 days and will be securely destroyed.', at: now }),
          });
        }
        out.dueForDestruction++;
      } else {
        out.skipped++;
      }
    }
    if (updates.length > 0) {
      const updated = await sql<{ id: string }>`
        update held_drives set state = v.state, return_alerted_at = v.return_alerted_at, deadline_at = v.deadline_at, deadline_kind = v.deadline_kind,
          resolved_at = v.resolved_at, resolved_by = v.resolved_by, note = v.note
        from jsonb_to_recordset(${JSON.stringify(updates)}::jsonb) as v(id bigint, from_state text, state text, return_alerted_at timestamptz,
          deadline_at timestamptz, deadline_kind text, resolved_at timestamptz, resolved_by text, note text)
        where held_drives.id = v.id and held_drives.state = v.from_state
        returning held_drives.id`.execute(tx);
      // The rows are locked by this transaction: a mismatch is a bug, not a race. Roll the batch back.
      if (updated.rows.length !== updates.length) throw new Error(`Held drive batch: ${updates.length - updated.rows.length} row(s) changed under the row lock.`);
    }
    await recordCustody(tx, now, custody);
    if (tasks.length > 0) await openTasks(tx, now, tasks);
    await insertOutbox(tx, now, notices);
    return out;
  });
}

const ADDRESS_RESOLUTION = 'The customer updated the return address.';

/**
 * Claims a batch of due return address flags together with their jobs (FOR UPDATE OF both, SKIP LOCKED: a flag
 * whose job another transaction holds waits for the next sweep, and nothing here waits for a lock, so it cannot
 * deadlock with a job change that locks the job and then its flag). Each job then goes through the batch path of
 * `store.changeJob`, as `resolveAddressFlag` (the customer changed the address since: the flag is resolved) or the
 * 90-day expiry (drives due for secure destruction) did one job at a time; flags, custody records and tasks are
 * written set-based in the same transaction.
 */
export async function claimFlagBatch(store: Store, now: Date, limit: number, after: Cursor) {
  return inTx(store, async (tx) => {
    const cursor = after ? sql`and (f.deadline_at, f.id) > (${after.at.toISOString()}::timestamptz, ${after.id}::bigint)` : sql``;
    const found = await sql<JobRow & { flag_id: string; flag_deadline_at: unknown; flag_address_hash: string }>`
      select f.id as flag_id, f.deadline_at as flag_deadline_at, f.address_hash as flag_address_hash, j.*
      from return_address_flags f join jobs j on j.id = f.job_id
      where f.deadline_at <= ${now.toISOString()}::timestamptz and f.status = ${AddressFlagState.Open} ${cursor}
      order by f.deadline_at, f.id limit ${limit}
      for update of f, j skip locked`.execute(tx);
    const rows = found.rows;
    const out = {
      expired: 0, resolved: 0, skipped: 0, claimed: rows.length,
      last: cursorOf(rows.map((row) => ({ deadline_at: row.flag_deadline_at, id: row.flag_id }))),
    };
    if (rows.length === 0) return out;
    const flagOf = new Map(rows.map((row) => [Number(row.id), Number(row.flag_id)]));
    const changed = new Set(rows.filter((row) => {
      const addr = fromJson<unknown>(row.return_address);
      return addr != null && addressHash(addr) !== row.flag_address_hash;
    }).map((row) => Number(row.id)));
    const custody: CustodyInput[] = [];
    const done = await applyChangesInTx(store, tx, now, rows.map((row): BatchItem => {
      const jobId = Number(row.id);
      if (changed.has(jobId)) {
        return {
          row, actorId: 'system', decide: (w) => {
            if (w.job.extensions.returnAddressProblem) {
              const ext = { ...w.job.extensions };
              delete ext.returnAddressProblem;
              w.set({ extensions: ext });
              w.note('returnAddressResolved', 'ReturnAddressResolved', ADDRESS_RESOLUTION);
            }
            return 'resolved';
          },
        };
      }
      return {
        row, actorId: 'timer', decide: (w, openTaskLater) => {
          const flag = w.job.extensions.returnAddressProblem as Record<string, unknown> | undefined;
          if (!flag) return 'skipped';
          const due = w.drives.filter((d) => d.state !== DriveState.NeverReceived && d.state !== DriveState.ShippedBack).map((d) => d.driveId);
          const ext = { ...w.job.extensions, drivesDueForDestruction: due, returnAddressProblem: { ...flag, expiredAt: w.now.toISOString() } };
          delete (ext.returnAddressProblem as Record<string, unknown>).destroyDrivesAt;
          w.set({ extensions: ext });
          w.note('drivesDueForDestruction', 'ReturnAddressUnreachable', 'The return address stayed wrong or missing and we could not reach you for 90 days: the drives will be securely destroyed.', { driveIds: due });
          custody.push(...due.map((driveId) => ({ driveId, kind: CustodyKind.MarkedForDestruction, jobId, subscriptionId: w.job.subscriptionId, jobName: w.job.name, by: 'timer' })));
          const flagId = flagOf.get(jobId)!;
          openTaskLater({
            kind: TaskKind.DestroyDrives, jobId, subscriptionId: w.job.subscriptionId, jobName: w.job.name, driveIds: due, by: 'timer', dedupeKey: `destroyUnreachable:${flagId}`,
            title: `Job ${w.job.name}: return address unreachable for 90 days; securely destroy its drives and record the certificates.`,
          });
          return 'expired';
        },
      };
    }));
    const resolvedJobs = [...done.outcomes].filter(([, o]) => o === 'resolved').map(([jobId]) => jobId);
    const expiredJobs = [...done.outcomes].filter(([, o]) => o === 'expired').map(([jobId]) => jobId);
    out.skipped += done.skipped;
    if (resolvedJobs.length > 0) {
      await tx.updateTable('return_address_flags').set({ status: AddressFlagState.Resolved, resolved_at: now, resolution: ADDRESS_RESOLUTION, deadline_at: null })
        .where('id', '=', sql<number>`any(${resolvedJobs.map((j) => flagOf.get(j)!)}::bigint[])`).execute();
      await tx.updateTable('operator_tasks').set({ status: TaskStatus.Closed, closed_at: now, closed_by: 'system', close_note: ADDRESS_RESOLUTION })
        .where('job_id', '=', sql<number>`any(${resolvedJobs}::bigint[])`).where('kind', '=', TaskKind.BadReturnAddress).where('status', '=', TaskStatus.Open).execute();
      out.resolved = resolvedJobs.length;
    }
    if (expiredJobs.length > 0) {
      await tx.updateTable('return_address_flags').set({ status: AddressFlagState.Expired, resolved_at: now, resolution: 'unreachable for 90 days', deadline_at: null })
        .where('id', '=', sql<number>`any(${expiredJobs.map((j) => flagOf.get(j)!)}::bigint[])`).execute();
      await recordCustody(tx, now, custody);
      out.expired = expiredJobs.length;
    }
    return out;
  });
}
