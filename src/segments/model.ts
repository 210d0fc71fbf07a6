import { randomBytes } from 'node:crypto';
import { PulseError } from '../errors.ts';
import { evaluate, parseRule, type ProfileFacts, type Rule } from './rule.ts';

/** A stored segment definition; `rule` keeps the JSON text as given. */
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

/** Segment ids become parts of Redis keys and subjects. */
export const SEGMENT_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Validates a create request; INVALID_ARGUMENT names the field. Generates an id when none is given. */
export function newSegment(input: { id: string; name: string; rule: string }, now: number): SegmentDefinition {
  const id = input.id === '' ? `seg_${randomBytes(8).toString('hex')}` : input.id;
  if (!SEGMENT_ID_PATTERN.test(id)) throw new PulseError('INVALID_ARGUMENT', `id: must match ${SEGMENT_ID_PATTERN.source}`, { field: 'id' });
  const name = input.name.trim();
  if (name === '' || name.length > 256) throw new PulseError('INVALID_ARGUMENT', 'name: 1-256 characters required', { field: 'name' });
  parseRule(input.rule);
  return { id, name, rule: input.rule, createdAt: now };
}

/** Parses stored definitions once per use. */
export function compile(defs: readonly SegmentDefinition[]): CompiledSegment[] {
  return defs.map((d) => ({ id: d.id, rule: parseRule(d.rule) }));
}

/** Membership of one profile in every segment: `[segmentId, inside]`. */
export function evaluateAll(segments: readonly CompiledSegment[], facts: ProfileFacts): [string, boolean][] {
  return segments.map((s) => [s.id, evaluate(s.rule, facts)]);
}
