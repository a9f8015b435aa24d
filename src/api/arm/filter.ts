/**
 * `$filter` for job lists. Nothing documents the real grammar, so sneakernet accepts the OData subset that fits
 * the two indexed fields: `state eq 'X'`, `jobType eq 'Import'`, `state in ('A','B')`, comparisons joined by
 * `and`, and `or` between comparisons on the same field (parenthesised or not). Field names and values are
 * case-insensitive; values come back in their canonical spelling.
 */
import { ApiError, ApiErrorCode } from '../errors.ts';
import { JOB_STATES, JOB_TYPES, type JobState, type JobType } from '../../domain/states.ts';

export interface JobFilter {
  states?: JobState[];
  jobType?: JobType;
  /** The conditions contradict each other (state eq 'A' and state eq 'B'): the answer is empty. */
  matchesNothing?: boolean;
}

const MAX_FILTER_LENGTH = 1000;

type Token = { kind: 'word' | 'string' | 'lparen' | 'rparen' | 'comma'; text: string };

const bad = (message: string) => new ApiError(400, ApiErrorCode.InvalidQueryParameter, `Invalid $filter: ${message}`, '$filter');

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === '(') { out.push({ kind: 'lparen', text: c }); i++; continue; }
    if (c === ')') { out.push({ kind: 'rparen', text: c }); i++; continue; }
    if (c === ',') { out.push({ kind: 'comma', text: c }); i++; continue; }
    if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= src.length) throw bad('a quoted value is not closed.');
        if (src[i] === "'") {
          if (src[i + 1] === "'") { s += "'"; i += 2; continue; }
          i++;
          break;
        }
        s += src[i++];
      }
      out.push({ kind: 'string', text: s });
      continue;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_/.]*/.exec(src.slice(i));
    if (!m) throw bad(`unexpected character '${c}'.`);
    out.push({ kind: 'word', text: m[0] });
    i += m[0].length;
  }
  return out;
}

type Field = 'state' | 'jobType';
const FIELDS: Record<string, Field> = { state: 'state', 'properties/state': 'state', jobtype: 'jobType', 'properties/jobtype': 'jobType', type: 'jobType' };

export function parseJobFilter(raw: unknown): JobFilter {
  if (raw === undefined || raw === '') return {};
  if (typeof raw !== 'string') throw bad('give $filter once.');
  if (raw.length > MAX_FILTER_LENGTH) throw bad(`at most ${MAX_FILTER_LENGTH} characters.`);
  const tokens = tokenize(raw);
  let pos = 0;
  const peek = () => tokens[pos];
  const next = () => tokens[pos++];
  const isWord = (t: Token | undefined, w: string) => t?.kind === 'word' && t.text.toLowerCase() === w;

  const values: Record<Field, Set<string> | undefined> = { state: undefined, jobType: undefined };

  const canonical = (field: Field, v: string): string => {
    const list: readonly string[] = field === 'state' ? JOB_STATES : JOB_TYPES;
    const found = list.find((x) => x.toLowerCase() === v.toLowerCase());
    if (!found) throw bad(`'${v.slice(0, 40)}' is not a ${field === 'state' ? 'job state' : 'job type'} (one of ${list.join(', ')}).`);
    return found;
  };

  // comparison := field eq 'v' | field in ('v', ...)
  const comparison = (): { field: Field; values: string[] } => {
    const f = next();
    if (f?.kind !== 'word') throw bad('expected a field name (state or jobType).');
    const field = FIELDS[f.text.toLowerCase()];
    if (!field) throw bad(`filtering on '${f.text.slice(0, 40)}' is not supported; use state or jobType.`);
    const op = next();
    if (isWord(op, 'eq')) {
      const v = next();
      if (v?.kind !== 'string') throw bad(`expected a quoted value after '${f.text} eq'.`);
      return { field, values: [canonical(field, v.text)] };
    }
    if (isWord(op, 'in')) {
      if (next()?.kind !== 'lparen') throw bad("expected '(' after 'in'.");
      const vs: string[] = [];
      for (;;) {
        const v = next();
        if (v?.kind !== 'string') throw bad("expected a quoted value in the 'in' list.");
        vs.push(canonical(field, v.text));
        const sep = next();
        if (sep?.kind === 'rparen') break;
        if (sep?.kind !== 'comma') throw bad("expected ',' or ')' in the 'in' list.");
      }
      return { field, values: vs };
    }
    throw bad("only the 'eq' and 'in' operators are supported.");
  };

  // disjunction := comparison ('or' comparison)* — all on one field
  const disjunction = (): { field: Field; values: string[] } => {
    const first = comparison();
    while (isWord(peek(), 'or')) {
      next();
      const c = comparison();
      if (c.field !== first.field) throw bad("'or' joins comparisons on the same field only.");
      first.values.push(...c.values);
    }
    return first;
  };

  const term = (): { field: Field; values: string[] } => {
    if (peek()?.kind === 'lparen') {
      next();
      const d = disjunction();
      if (next()?.kind !== 'rparen') throw bad("a '(' is not closed.");
      return d;
    }
    return disjunction();
  };

  for (;;) {
    const t = term();
    const prev = values[t.field];
    // 'and' on one field intersects (state eq 'A' and state eq 'B' matches nothing).
    values[t.field] = prev ? new Set(t.values.filter((v) => prev.has(v))) : new Set(t.values);
    if (pos >= tokens.length) break;
    if (!isWord(next(), 'and')) throw bad("expected 'and' between conditions.");
    if (pos >= tokens.length) throw bad("nothing after 'and'.");
  }

  const out: JobFilter = {};
  if (values.state) {
    out.states = [...values.state] as JobState[];
    if (out.states.length === 0) out.matchesNothing = true;
  }
  if (values.jobType) {
    const types = [...values.jobType] as JobType[];
    if (types.length === 1) out.jobType = types[0];
    else if (types.length === 0) out.matchesNothing = true;
    // both types: no restriction
  }
  return out;
}
