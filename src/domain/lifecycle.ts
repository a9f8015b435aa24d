/**
 * Deciding a transition: look the event up in a table, check the actor and the guard, return the target state
 * and the reason. Pure: the store calls this inside its transaction and writes what it returns.
 */
import { DomainError } from './errors.ts';
import { Actor, isDriveState, isJobState, type DriveState, type JobState } from './states.ts';
import type { StateReason } from './reasons.ts';
import {
  DRIVE_EVENTS, DRIVE_TRANSITIONS, JOB_EVENTS, JOB_TRANSITIONS, JobEvent,
  type DriveContext, type DriveEvent, type JobFacts, type TransitionRule,
} from './transitions.ts';

export interface Decision<S extends string> {
  from: S;
  to: S;
  event: string;
  reason: StateReason;
}

interface DecideOptions<S> {
  /** The target the caller wants when several are possible (unfault). */
  to?: S;
  /** Replaces the rule's default message (the code stays), e.g. an operator's note. */
  message?: string;
  reasonCode?: string;
}

function decide<S extends string, E extends string, C>(
  kind: 'job' | 'drive',
  table: readonly TransitionRule<S, E, C>[],
  knownEvents: readonly string[],
  isState: (s: unknown) => boolean,
  state: S,
  event: string,
  actor: Actor,
  ctx: C,
  opts: DecideOptions<S>,
): Decision<S> {
  if (!isState(state)) throw new DomainError('UnknownState', `Unknown ${kind} state '${state}'.`, { target: 'state' });
  if (!knownEvents.includes(event)) throw new DomainError('UnknownEvent', `Unknown ${kind} event '${event}'.`, { target: 'event' });
  let rules = table.filter((r) => r.event === event && r.from.includes(state));
  if (opts.to !== undefined) rules = rules.filter((r) => r.to === opts.to);
  if (rules.length === 0) {
    const where = opts.to !== undefined ? ` to ${opts.to}` : '';
    throw new DomainError('TransitionNotAllowed', `A ${kind} in state ${state} cannot ${event}${where}.`, { target: 'state' });
  }
  const allowed = rules.filter((r) => r.actors.includes(actor));
  if (allowed.length === 0) {
    throw new DomainError('ActorNotAllowed', `The ${actor} may not ${event} a ${kind} in state ${state}.`);
  }
  const rule = allowed.find((r) => !r.guard || r.guard.test(ctx));
  if (!rule) {
    const needs = allowed.map((r) => r.guard?.description).filter(Boolean).join(' or ');
    throw new DomainError('GuardFailed', `A ${kind} in state ${state} can ${event} only when ${needs}.`);
  }
  return {
    from: state,
    to: rule.to,
    event,
    reason: { code: opts.reasonCode ?? rule.reason.code, message: opts.message ?? rule.reason.message },
  };
}

export function decideJobTransition(
  job: JobFacts, event: JobEvent | string, actor: Actor, opts: DecideOptions<JobState> = {},
): Decision<JobState> {
  return decide('job', JOB_TRANSITIONS, JOB_EVENTS, isJobState, job.state, event, actor, job, opts);
}

export function decideDriveTransition(
  ctx: DriveContext, event: DriveEvent | string, actor: Actor, opts: DecideOptions<DriveState> = {},
): Decision<DriveState> {
  return decide('drive', DRIVE_TRANSITIONS, DRIVE_EVENTS, isDriveState, ctx.drive.state, event, actor, ctx, opts);
}

/** Whether the event is possible for this job right now, without throwing. */
export function canJob(job: JobFacts, event: JobEvent, actor: Actor, to?: JobState): boolean {
  try {
    decideJobTransition(job, event, actor, { to });
    return true;
  } catch {
    return false;
  }
}

/** The job events the system should try after a drive changed, in order. */
export function automaticJobEvents(job: JobFacts): Decision<JobState>[] {
  const out: Decision<JobState>[] = [];
  let facts = job;
  for (;;) {
    const rule = JOB_TRANSITIONS.find(
      (r) => r.from.includes(facts.state) && r.actors.includes(Actor.System) && r.guard && AUTOMATIC.has(r.event) && r.guard.test(facts),
    );
    if (!rule) return out;
    out.push(decideJobTransition(facts, rule.event, Actor.System));
    facts = { ...facts, state: rule.to };
  }
}
/** Events the system applies on its own as soon as their guard holds (the others need a person or a timer). */
const AUTOMATIC = new Set<string>([JobEvent.ReceiveAllDrives, JobEvent.StartTransfer, JobEvent.SkipCopy, JobEvent.FinishTransfer]);
