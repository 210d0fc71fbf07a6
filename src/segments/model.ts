import { randomBytes } from 'node:crypto';
import { PulseError } from '../errors.ts';
import { evaluate, factsFrom, nextChange, segmentReferences, SEGMENT_ID_PATTERN, validateAll, type FactsInput, type ProfileFacts, type Rule, type RuleProblem } from './rule.ts';
import { parseRuleSource } from './rule-text.ts';

export { SEGMENT_ID_PATTERN } from './rule.ts';

/** A stored segment definition; `rule` keeps the rule as given (JSON, or the text form). */
export interface SegmentDefinition {
  readonly id: string;
  readonly name: string;
  readonly rule: string;
  readonly createdAt: number;
}

/** A definition with its rule parsed, ready to evaluate. */
export interface CompiledSegment {
  readonly id: string;
  readonly rule: Rule;
}

/** Validates a create request; INVALID_ARGUMENT names the field. Generates an id when none is given. */
export function newSegment(input: { id: string; name: string; rule: string }, now: number): SegmentDefinition {
  const id = input.id === '' ? `seg_${randomBytes(8).toString('hex')}` : input.id;
  if (!SEGMENT_ID_PATTERN.test(id)) throw new PulseError('INVALID_ARGUMENT', `id: must match ${SEGMENT_ID_PATTERN.source}`, { field: 'id' });
  const name = input.name.trim();
  if (name === '' || name.length > 256) throw new PulseError('INVALID_ARGUMENT', 'name: 1-256 characters required', { field: 'name' });
  parseRuleSource(input.rule);
  return { id, name, rule: input.rule, createdAt: now };
}

/**
 * Problems of a set of definitions (a draft among the stored ones, say): rules that do not parse,
 * then references to missing segments, cycles and too deep chains (see validateAll).
 */
export function validateDefinitions(defs: readonly SegmentDefinition[]): RuleProblem[] {
  const problems: RuleProblem[] = [];
  const parsed: CompiledSegment[] = [];
  for (const d of defs) {
    try {
      parsed.push({ id: d.id, rule: parseRuleSource(d.rule) });
    } catch (err) {
      if (!(err instanceof PulseError)) throw err;
      problems.push({ segment: d.id, field: err.field ?? 'rule', message: err.message });
    }
  }
  return [...problems, ...validateAll(parsed)];
}

/** Parses stored definitions once per use. */
export function compile(defs: readonly SegmentDefinition[]): CompiledSegment[] {
  return defs.map((d) => ({ id: d.id, rule: parseRuleSource(d.rule) }));
}

const orders = new WeakMap<readonly CompiledSegment[], readonly number[]>();
/** Segments a rule refers to, per rule node (rules are immutable). */
const referenced = new WeakMap<Rule, readonly string[]>();

function referencesOf(rule: Rule): readonly string[] {
  let refs = referenced.get(rule);
  if (refs === undefined) {
    refs = segmentReferences(rule).map((r) => r.segment);
    referenced.set(rule, refs);
  }
  return refs;
}

/** Indexes of `segments` with every referenced segment before the ones that refer to it (a cycle is cut anywhere). */
function evaluationOrder(segments: readonly CompiledSegment[]): readonly number[] {
  let order = orders.get(segments);
  if (order !== undefined) return order;
  const index = new Map(segments.map((s, i) => [s.id, i]));
  const done = new Set<number>();
  const list: number[] = [];
  const visit = (i: number): void => {
    if (done.has(i)) return;
    done.add(i);
    for (const r of referencesOf((segments[i] as CompiledSegment).rule)) {
      const j = index.get(r);
      if (j !== undefined) visit(j);
    }
    list.push(i);
  };
  segments.forEach((_, i) => visit(i));
  order = list;
  orders.set(segments, order);
  return order;
}

/** Evaluates in dependency order; `segment(...)` conditions see the fresh results. */
function membership(segments: readonly CompiledSegment[], facts: ProfileFacts): { inside: Map<string, boolean>; current: ProfileFacts } {
  const members = new Set(facts.segments);
  // One facts object for every segment: `members` is updated in place as results come in.
  const current: ProfileFacts = { ...facts, segments: members };
  const inside = new Map<string, boolean>();
  for (const i of evaluationOrder(segments)) {
    const s = segments[i] as CompiledSegment;
    const result = evaluate(s.rule, current);
    inside.set(s.id, result);
    if (result) members.add(s.id);
    else members.delete(s.id);
  }
  return { inside, current };
}

/**
 * Membership of one profile in every segment: `[segmentId, inside]`, in the order given. Referenced
 * segments are evaluated first and their fresh result is what `segment(...)` conditions see.
 * Facts without `now` are read at `now` (the current time by default).
 */
export function evaluateAll(segments: readonly CompiledSegment[], facts: FactsInput, now: number = Date.now()): [string, boolean][] {
  const { inside } = membership(segments, factsFrom(facts, now));
  return segments.map((s) => [s.id, inside.get(s.id) as boolean]);
}

/**
 * The earliest time after `now` at which any segment's membership may change with no new event,
 * or undefined: when to re-evaluate the profile for time-based exits.
 */
export function nextChangeAll(segments: readonly CompiledSegment[], facts: FactsInput, now: number = Date.now()): number | undefined {
  return evaluateAndSchedule(segments, facts, now).nextChange;
}

/** evaluateAll and nextChangeAll of the same facts, evaluating the segments once. */
export function evaluateAndSchedule(segments: readonly CompiledSegment[], facts: FactsInput, now: number = Date.now()): { membership: [string, boolean][]; nextChange: number | undefined } {
  const { inside, current } = membership(segments, factsFrom(facts, now));
  let earliest: number | undefined;
  for (const s of segments) {
    const t = nextChange(s.rule, current);
    if (t !== undefined && (earliest === undefined || t < earliest)) earliest = t;
  }
  return { membership: segments.map((s) => [s.id, inside.get(s.id) as boolean]), nextChange: earliest };
}
