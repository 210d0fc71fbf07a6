import { createHash } from 'node:crypto';
import type { Json, JsonObject } from '../json.ts';
import { PulseError } from '../errors.ts';
import type { FeatureData, Occurrence } from './features.ts';

/*
 * The segment rule language: a JSON condition tree, validated into a canonical form, evaluated
 * purely over ProfileFacts. The readable text form lives in rule-text.ts, feature extraction in
 * features.ts, explanations in explain.ts.
 *
 * Time semantics (all times are epoch milliseconds):
 * - a relative window "last N units" holds the occurrences with `at > now - N`: an occurrence
 *   exactly N old is outside (it leaves the window at `at + N`); occurrences dated after `now`
 *   (clock skew) are inside;
 * - an absolute range `{from, to}` is half-open: `from <= at < to`;
 * - "within N" (recency, the gap of a sequence) means less than N elapsed;
 * - `before`/`after` are strict: a date equal to the bound is neither.
 */

/** A boolean tree over leaves `L`: the shape of rules and of property filters. */
export type BoolTree<L> =
  | { readonly all: readonly BoolTree<L>[] }
  | { readonly any: readonly BoolTree<L>[] }
  | { readonly not: BoolTree<L> }
  | L;

/** Units of windows and relative dates. */
export const TIME_UNITS = ['minutes', 'hours', 'days', 'weeks'] as const;
/** A unit of windows and relative dates. */
export type TimeUnit = (typeof TIME_UNITS)[number];
const UNIT_MS: Readonly<Record<TimeUnit, number>> = { minutes: 60_000, hours: 3_600_000, days: 86_400_000, weeks: 604_800_000 };

/** "The last N units": a relative window, also the length of `within`. */
export interface Duration { readonly last: number; readonly unit: TimeUnit }
/** An absolute range of ISO-8601 dates, `from` inclusive, `to` exclusive. */
export interface DateRange { readonly from: string; readonly to: string }
/** Where occurrences are looked for; absent means all time. */
export type Window = Duration | DateRange;
/** A date relative to the evaluation time: N units ago, or N units from now. */
export type RelativeDate = { readonly ago: number; readonly unit: TimeUnit } | { readonly from_now: number; readonly unit: TimeUnit };

/** The comparison part of a trait or property condition. */
export type FieldTest =
  | { readonly op: 'eq' | 'neq' | 'contains'; readonly value: Json }
  | { readonly op: 'in' | 'not_in'; readonly value: readonly Json[] }
  | { readonly op: 'gt' | 'gte' | 'lt' | 'lte'; readonly value: number | string }
  | { readonly op: 'between'; readonly value: readonly [number, number] | readonly [string, string] }
  | { readonly op: 'exists' | 'not_exists' }
  | { readonly op: 'before' | 'after'; readonly value: string | number };
/** A trait compared with a date relative to the evaluation time. */
export interface RelativeDateTest { readonly op: 'before' | 'after'; readonly relative: RelativeDate }

/** `{"trait": "plan", "op": "eq", "value": "pro"}`, `{"trait": "signup_at", "op": "before", "relative": {"ago": 30, "unit": "days"}}`. */
export type TraitCondition = { readonly trait: string } & (FieldTest | RelativeDateTest);
/** A condition on one property of an event (relative dates excluded: filters apply when the event arrives). */
export type PropertyCondition = { readonly property: string } & FieldTest;
/** Which occurrences of an event count. */
export type PropertyFilter = BoolTree<PropertyCondition>;

/** sum, min or max of a numeric property; absent on an event condition means count. */
export interface Aggregate { readonly fn: 'sum' | 'min' | 'max'; readonly property: string }
/** How an aggregate is compared. */
export type EventComparison =
  | { readonly op: 'gte' | 'gt' | 'eq' | 'lte' | 'lt'; readonly value: number }
  | { readonly op: 'between'; readonly value: readonly [number, number] };
/**
 * An aggregate of an event's occurrences compared with a value:
 * `{"event": "Purchase", "where": ..., "aggregate": {"fn": "sum", "property": "revenue"}, "window": {"last": 7, "unit": "days"}, "op": "gte", "value": 100}`.
 * The legacy `{"event", "op": "gte", "count": N}` is read as `{"event", "op": "gte", "value": N}`.
 */
export type EventCondition = {
  readonly event: string;
  readonly where?: PropertyFilter;
  readonly aggregate?: Aggregate;
  readonly window?: Window;
} & EventComparison;
/** Did not do the event (in the window): the canonical form of "count = 0". */
export interface NotDidCondition { readonly not_did: string; readonly where?: PropertyFilter; readonly window?: Window }
/** Seen (any event, or the given one) within the duration. */
export interface RecencyCondition {
  readonly recency: { readonly within: Duration; readonly event?: string; readonly where?: PropertyFilter };
}
/** A step of a sequence: an event name, or an event with a filter. */
export type SequenceStep = string | { readonly event: string; readonly where: PropertyFilter };
/** The steps happened in this order, the last less than `within` after the first, all inside `window`. */
export interface SequenceCondition { readonly sequence: readonly SequenceStep[]; readonly within?: Duration; readonly window?: Window }
/** Membership of another segment. */
export interface SegmentCondition { readonly segment: string }

/** A leaf of a rule. */
export type Condition = TraitCondition | EventCondition | NotDidCondition | RecencyCondition | SequenceCondition | SegmentCondition;
/** A segment rule: conditions combined with all, any and not. */
export type Rule = BoolTree<Condition>;

/**
 * What a rule is evaluated against (see /work/notes/issue4-design.md). `features` holds the data of
 * the EventFeatures that `features(rule)` lists; a missing entry reads as "no occurrence".
 */
export interface ProfileFacts {
  readonly now: number;
  readonly traits: JsonObject;
  readonly eventCounts: Readonly<Record<string, number>>;
  readonly lastSeen: number | undefined;
  readonly features: ReadonlyMap<string, FeatureData>;
  readonly segments: ReadonlySet<string>;
}

/** Facts from a store that only knows traits and counts; the other fields default (see factsFrom). */
export type FactsInput = Pick<ProfileFacts, 'traits' | 'eventCounts'> & Partial<Omit<ProfileFacts, 'traits' | 'eventCounts'>>;

/** Complete facts: absent fields mean nothing seen, no feature data, no membership; `now` when absent. */
export function factsFrom(input: FactsInput, now: number): ProfileFacts {
  return {
    now: input.now ?? now,
    traits: input.traits,
    eventCounts: input.eventCounts,
    lastSeen: input.lastSeen,
    features: input.features ?? new Map(),
    segments: input.segments ?? new Set(),
  };
}

/** Segment ids become parts of Redis keys and subjects. */
export const SEGMENT_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Limits that keep a rule cheap to evaluate and safe to parse. */
export const RULE_LIMITS = {
  depth: 16,
  nodes: 256,
  /** Largest N of a window, duration or relative date. */
  amount: 10_000,
  listValues: 1_000,
  sequenceSteps: 8,
  nameLength: 256,
  /** Longest chain of segment references (a -> b -> c is 2). */
  referenceDepth: 8,
  /** Characters of a rule's JSON or text. */
  sourceLength: 65_536,
} as const;

const FIELD_OPS = ['eq', 'neq', 'exists', 'not_exists', 'in', 'not_in', 'contains', 'gt', 'gte', 'lt', 'lte', 'between', 'before', 'after'] as const;
const EVENT_OPS = ['gte', 'gt', 'eq', 'lte', 'lt', 'between'] as const;
const AGGREGATE_FNS = ['count', 'sum', 'min', 'max'] as const;
const RULE_KINDS = ['all', 'any', 'not', 'trait', 'event', 'not_did', 'recency', 'sequence', 'segment'] as const;
const FILTER_KINDS = ['all', 'any', 'not', 'property'] as const;

/** Parses and validates a rule given as JSON text; INVALID_ARGUMENT names the place (`rule.all[1].op`). */
export function parseRule(text: string): Rule {
  if (text.length > RULE_LIMITS.sourceLength) {
    throw new PulseError('INVALID_ARGUMENT', `rule: longer than ${RULE_LIMITS.sourceLength} characters`, { field: 'rule' });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new PulseError('INVALID_ARGUMENT', `rule: not valid JSON (${(err as Error).message})`, { field: 'rule' });
  }
  return validateRule(data);
}

/** Where a node of a text rule starts, to name line and column in validation errors. */
export type Locate = (node: object) => { readonly line: number; readonly column: number } | undefined;

/**
 * Validates a rule tree and returns its canonical form: a legacy `count` becomes `value`,
 * `{"fn": "count"}` is dropped, a count `eq 0` becomes `not_did`, a step `{"event"}` without a
 * filter becomes its name. Errors are INVALID_ARGUMENT with `field` set to the place; with
 * `locate` (text rules) the message names line and column and the field is `rule`.
 */
export function validateRule(input: unknown, locate?: Locate): Rule {
  return new Checker(locate).rule(input, 'rule', 0);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isName(v: unknown): v is string {
  return typeof v === 'string' && v !== '' && v.length <= RULE_LIMITS.nameLength;
}

function isJson(v: unknown, depth = 0): v is Json {
  if (depth > 64) return false;
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every((x) => isJson(x, depth + 1));
  if (!isObject(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return (proto === Object.prototype || proto === null) && Object.values(v).every((x) => isJson(x, depth + 1));
}

function isAmount(v: unknown, min: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= RULE_LIMITS.amount;
}

const UNITS_MESSAGE = `must be one of ${TIME_UNITS.join(', ')}`;
const DATE_MESSAGE = 'must be an ISO-8601 date (2024-01-31, 2024-01-31T12:00:00Z) or epoch milliseconds';
const ISO_MESSAGE = 'must be an ISO-8601 date (2024-01-31, 2024-01-31T12:00:00Z)';
const DURATION_MESSAGE = 'must be {"last": N, "unit": U}';
const WINDOW_MESSAGE = 'must be {"last": N, "unit": U} or {"from": DATE, "to": DATE}';

class Checker {
  #nodes = 0;
  readonly #trail: object[] = [];
  readonly #locate: Locate | undefined;

  constructor(locate: Locate | undefined) {
    this.#locate = locate;
  }

  fail(where: string, message: string): never {
    if (this.#locate !== undefined) {
      for (let i = this.#trail.length - 1; i >= 0; i--) {
        const pos = this.#locate(this.#trail[i] as object);
        if (pos !== undefined) {
          throw new PulseError('INVALID_ARGUMENT', `rule: line ${pos.line}, column ${pos.column}: ${where}: ${message}`, { field: 'rule' });
        }
      }
    }
    throw new PulseError('INVALID_ARGUMENT', `${where}: ${message}`, { field: where });
  }

  only(node: Record<string, unknown>, allowed: readonly string[], at: string): void {
    for (const k of Object.keys(node)) {
      if (!allowed.includes(k)) this.fail(at, `unknown key ${JSON.stringify(k)} (allowed: ${allowed.join(', ')})`);
    }
  }

  /** Enters an object node: counts it, checks depth, keeps it for error positions. */
  enter(node: unknown, at: string, depth: number): Record<string, unknown> {
    if (!isObject(node)) return this.fail(at, 'must be an object');
    this.#trail.push(node);
    if (++this.#nodes > RULE_LIMITS.nodes) this.fail(at, `more than ${RULE_LIMITS.nodes} conditions`);
    if (depth > RULE_LIMITS.depth) this.fail(at, `nested deeper than ${RULE_LIMITS.depth}`);
    return node;
  }

  /** Follows into a plain part of a node (window, aggregate...) for error positions. */
  part(node: unknown, at: string, message: string): Record<string, unknown> {
    if (!isObject(node)) return this.fail(at, message);
    this.#trail.push(node);
    return node;
  }

  leave(): void {
    this.#trail.pop();
  }

  tree<L>(input: unknown, at: string, depth: number, kinds: readonly string[], leaf: (node: Record<string, unknown>, kind: string, at: string, depth: number) => L): BoolTree<L> {
    const node = this.enter(input, at, depth);
    const kind = kinds.find((k) => Object.hasOwn(node, k));
    let out: BoolTree<L>;
    if (kind === 'all' || kind === 'any') {
      this.only(node, [kind], at);
      const list = node[kind];
      if (!Array.isArray(list) || list.length === 0) this.fail(`${at}.${kind}`, 'must be a non-empty list');
      const children = (list as unknown[]).map((c, i) => this.tree(c, `${at}.${kind}[${i}]`, depth + 1, kinds, leaf));
      out = kind === 'all' ? { all: children } : { any: children };
    } else if (kind === 'not') {
      this.only(node, ['not'], at);
      out = { not: this.tree(node['not'], `${at}.not`, depth + 1, kinds, leaf) };
    } else if (kind === undefined) {
      return this.fail(at, `must have one of ${kinds.join(', ')}`);
    } else {
      out = leaf(node, kind, at, depth);
    }
    this.leave();
    return out;
  }

  rule(input: unknown, at: string, depth: number): Rule {
    return this.tree<Condition>(input, at, depth, RULE_KINDS, (node, kind, at, depth) => {
      switch (kind) {
        case 'trait': return this.trait(node, at);
        case 'event': return this.event(node, at, depth);
        case 'not_did': return this.notDid(node, at, depth);
        case 'recency': return this.recency(node, at, depth);
        case 'sequence': return this.sequence(node, at, depth);
        default: return this.segment(node, at);
      }
    });
  }

  filter(input: unknown, at: string, depth: number): PropertyFilter {
    return this.tree<PropertyCondition>(input, at, depth, FILTER_KINDS, (node, _kind, at) => {
      const property = node['property'];
      if (!isName(property)) this.fail(`${at}.property`, `must be a property name (1-${RULE_LIMITS.nameLength} characters)`);
      if (Object.hasOwn(node, 'relative') && (node['op'] === 'before' || node['op'] === 'after')) {
        this.fail(`${at}.relative`, 'relative dates are not allowed on event properties (filters apply when the event arrives)');
      }
      return { property, ...this.fieldTest(node, at, 'property') };
    });
  }

  trait(node: Record<string, unknown>, at: string): TraitCondition {
    const trait = node['trait'];
    if (!isName(trait)) this.fail(`${at}.trait`, `must be a trait name (1-${RULE_LIMITS.nameLength} characters)`);
    const op = node['op'];
    if ((op === 'before' || op === 'after') && Object.hasOwn(node, 'relative')) {
      this.only(node, ['trait', 'op', 'value', 'relative'], at);
      if (Object.hasOwn(node, 'value')) this.fail(at, 'give value or relative, not both');
      return { trait, op, relative: this.relative(node['relative'], `${at}.relative`) };
    }
    return { trait, ...this.fieldTest(node, at, 'trait') };
  }

  fieldTest(node: Record<string, unknown>, at: string, key: 'trait' | 'property'): FieldTest {
    const op = node['op'];
    const index = FIELD_OPS.indexOf(op as (typeof FIELD_OPS)[number]);
    if (index < 0) this.fail(`${at}.op`, `must be one of ${FIELD_OPS.join(', ')}`);
    const fop = FIELD_OPS[index] as (typeof FIELD_OPS)[number];
    if (fop === 'exists' || fop === 'not_exists') {
      this.only(node, [key, 'op'], at);
      return { op: fop };
    }
    if (fop === 'before' || fop === 'after') {
      const relative = key === 'trait';
      this.only(node, relative ? [key, 'op', 'value', 'relative'] : [key, 'op', 'value'], at);
      if (!Object.hasOwn(node, 'value')) {
        this.fail(`${at}.value`, `required for ${fop}: an ISO-8601 date or epoch milliseconds${relative ? ', or give relative' : ''}`);
      }
      const value = node['value'];
      if (toTime(value) === undefined) this.fail(`${at}.value`, DATE_MESSAGE);
      return { op: fop, value: value as string | number };
    }
    this.only(node, [key, 'op', 'value'], at);
    if (!Object.hasOwn(node, 'value')) this.fail(`${at}.value`, `required for ${fop}`);
    const value = node['value'];
    switch (fop) {
      case 'in':
      case 'not_in':
        if (!Array.isArray(value) || value.length === 0 || value.length > RULE_LIMITS.listValues || !value.every((v) => isJson(v))) {
          this.fail(`${at}.value`, `must be a list of 1 to ${RULE_LIMITS.listValues} JSON values`);
        }
        return { op: fop, value };
      case 'gt':
      case 'gte':
      case 'lt':
      case 'lte':
        if (!(typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)))) this.fail(`${at}.value`, 'must be a number or a string');
        return { op: fop, value };
      case 'between': {
        const ok = Array.isArray(value) && value.length === 2 && (
          (typeof value[0] === 'number' && typeof value[1] === 'number' && Number.isFinite(value[0]) && Number.isFinite(value[1]) && value[0] <= value[1]) ||
          (typeof value[0] === 'string' && typeof value[1] === 'string' && value[0] <= value[1]));
        if (!ok) this.fail(`${at}.value`, 'must be [low, high]: two numbers or two strings, low <= high');
        return { op: fop, value: value as [number, number] | [string, string] };
      }
      default:
        if (!isJson(value)) this.fail(`${at}.value`, 'must be a JSON value');
        return { op: fop, value };
    }
  }

  relative(input: unknown, at: string): RelativeDate {
    const node = this.part(input, at, 'must be {"ago": N, "unit": U} or {"from_now": N, "unit": U}');
    let out: RelativeDate;
    if (Object.hasOwn(node, 'ago')) {
      this.only(node, ['ago', 'unit'], at);
      if (!isAmount(node['ago'], 0)) this.fail(`${at}.ago`, `must be an integer from 0 to ${RULE_LIMITS.amount}`);
      out = { ago: node['ago'], unit: this.unit(node['unit'], `${at}.unit`) };
    } else if (Object.hasOwn(node, 'from_now')) {
      this.only(node, ['from_now', 'unit'], at);
      if (!isAmount(node['from_now'], 1)) this.fail(`${at}.from_now`, `must be an integer from 1 to ${RULE_LIMITS.amount}`);
      out = { from_now: node['from_now'], unit: this.unit(node['unit'], `${at}.unit`) };
    } else {
      return this.fail(at, 'must be {"ago": N, "unit": U} or {"from_now": N, "unit": U}');
    }
    this.leave();
    return out;
  }

  unit(v: unknown, at: string): TimeUnit {
    if (!TIME_UNITS.includes(v as TimeUnit)) this.fail(at, UNITS_MESSAGE);
    return v as TimeUnit;
  }

  duration(input: unknown, at: string): Duration {
    const node = this.part(input, at, DURATION_MESSAGE);
    this.only(node, ['last', 'unit'], at);
    if (!Object.hasOwn(node, 'last')) this.fail(at, DURATION_MESSAGE);
    if (!isAmount(node['last'], 1)) this.fail(`${at}.last`, `must be an integer from 1 to ${RULE_LIMITS.amount}`);
    const out = { last: node['last'], unit: this.unit(node['unit'], `${at}.unit`) };
    this.leave();
    return out;
  }

  window(input: unknown, at: string): Window {
    const node = this.part(input, at, WINDOW_MESSAGE);
    if (Object.hasOwn(node, 'last')) {
      this.leave();
      return this.duration(node, at);
    }
    if (!Object.hasOwn(node, 'from') && !Object.hasOwn(node, 'to')) this.fail(at, WINDOW_MESSAGE);
    this.only(node, ['from', 'to'], at);
    const from = node['from'];
    const to = node['to'];
    if (typeof from !== 'string' || parseIsoDate(from) === undefined) this.fail(`${at}.from`, ISO_MESSAGE);
    if (typeof to !== 'string' || parseIsoDate(to) === undefined) this.fail(`${at}.to`, ISO_MESSAGE);
    if ((parseIsoDate(to) as number) <= (parseIsoDate(from) as number)) this.fail(`${at}.to`, 'must be later than from');
    this.leave();
    return { from, to };
  }

  eventName(v: unknown, at: string): string {
    if (!isName(v)) this.fail(at, `must be an event name (1-${RULE_LIMITS.nameLength} characters)`);
    return v;
  }

  /** The optional `where` and `window` of an event-like condition, in canonical order. */
  scope(node: Record<string, unknown>, at: string, depth: number): { where?: PropertyFilter; window?: Window } {
    return {
      ...(Object.hasOwn(node, 'where') ? { where: this.filter(node['where'], `${at}.where`, depth + 1) } : {}),
      ...(Object.hasOwn(node, 'window') ? { window: this.window(node['window'], `${at}.window`) } : {}),
    };
  }

  event(node: Record<string, unknown>, at: string, depth: number): EventCondition | NotDidCondition {
    if (Object.hasOwn(node, 'count')) {
      this.only(node, ['event', 'op', 'count'], at);
      const event = this.eventName(node['event'], `${at}.event`);
      if (node['op'] !== 'gte') this.fail(`${at}.op`, 'must be gte (did the event at least `count` times)');
      const count = node['count'];
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) this.fail(`${at}.count`, 'must be an integer >= 1');
      return { event, op: 'gte', value: count };
    }
    this.only(node, ['event', 'where', 'aggregate', 'window', 'op', 'value'], at);
    const event = this.eventName(node['event'], `${at}.event`);
    let aggregate: Aggregate | undefined;
    if (Object.hasOwn(node, 'aggregate')) {
      const where = `${at}.aggregate`;
      const a = this.part(node['aggregate'], where, 'must be {"fn": "count"} or {"fn": "sum" | "min" | "max", "property": P}');
      const fn = a['fn'];
      if (!AGGREGATE_FNS.includes(fn as (typeof AGGREGATE_FNS)[number])) this.fail(`${where}.fn`, `must be one of ${AGGREGATE_FNS.join(', ')}`);
      if (fn === 'count') {
        this.only(a, ['fn'], where);
      } else {
        this.only(a, ['fn', 'property'], where);
        if (!isName(a['property'])) this.fail(`${where}.property`, `must be a property name (1-${RULE_LIMITS.nameLength} characters)`);
        aggregate = { fn: fn as Aggregate['fn'], property: a['property'] };
      }
      this.leave();
    }
    const scope = this.scope(node, at, depth);
    const op = node['op'];
    if (!EVENT_OPS.includes(op as (typeof EVENT_OPS)[number])) this.fail(`${at}.op`, `must be one of ${EVENT_OPS.join(', ')}`);
    if (!Object.hasOwn(node, 'value')) this.fail(`${at}.value`, `required for ${op as string}`);
    const value = node['value'];
    const isCount = aggregate === undefined;
    const valid = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && (!isCount || (Number.isInteger(v) && v >= 0));
    if (op === 'between') {
      if (!Array.isArray(value) || value.length !== 2 || !valid(value[0]) || !valid(value[1]) || value[0] > value[1]) {
        this.fail(`${at}.value`, `must be [low, high]: two ${isCount ? 'integers >= 0' : 'numbers'}, low <= high`);
      }
      return { event, ...scope, ...(aggregate === undefined ? {} : { aggregate }), op: 'between', value: value as [number, number] };
    }
    if (!valid(value)) this.fail(`${at}.value`, isCount ? 'must be an integer >= 0' : 'must be a number');
    if (isCount && op === 'eq' && value === 0) return { not_did: event, ...scope };
    return { event, ...scope, ...(aggregate === undefined ? {} : { aggregate }), op: op as 'gte' | 'gt' | 'eq' | 'lte' | 'lt', value };
  }

  notDid(node: Record<string, unknown>, at: string, depth: number): NotDidCondition {
    this.only(node, ['not_did', 'where', 'window'], at);
    return { not_did: this.eventName(node['not_did'], `${at}.not_did`), ...this.scope(node, at, depth) };
  }

  recency(node: Record<string, unknown>, at: string, depth: number): RecencyCondition {
    this.only(node, ['recency'], at);
    const where = `${at}.recency`;
    const r = this.part(node['recency'], where, 'must be {"within": {"last": N, "unit": U}} with optional event and where');
    this.only(r, ['within', 'event', 'where'], where);
    if (!Object.hasOwn(r, 'within')) this.fail(`${where}.within`, `required: ${DURATION_MESSAGE.slice('must be '.length)}`);
    const within = this.duration(r['within'], `${where}.within`);
    let out: RecencyCondition;
    if (Object.hasOwn(r, 'event')) {
      const event = this.eventName(r['event'], `${where}.event`);
      out = { recency: { within, event, ...(Object.hasOwn(r, 'where') ? { where: this.filter(r['where'], `${where}.where`, depth + 1) } : {}) } };
    } else {
      if (Object.hasOwn(r, 'where')) this.fail(`${where}.where`, 'needs event (a filter applies to one event)');
      out = { recency: { within } };
    }
    this.leave();
    return out;
  }

  sequence(node: Record<string, unknown>, at: string, depth: number): SequenceCondition {
    this.only(node, ['sequence', 'within', 'window'], at);
    const list = node['sequence'];
    const max = RULE_LIMITS.sequenceSteps;
    if (!Array.isArray(list) || list.length < 2 || list.length > max) this.fail(`${at}.sequence`, `must be a list of 2 to ${max} steps`);
    const steps = (list as unknown[]).map((s, i): SequenceStep => {
      const where = `${at}.sequence[${i}]`;
      if (typeof s === 'string') return this.eventName(s, where);
      const step = this.part(s, where, 'must be an event name or {"event": E, "where": F}');
      this.only(step, ['event', 'where'], where);
      const event = this.eventName(step['event'], `${where}.event`);
      const out: SequenceStep = Object.hasOwn(step, 'where') ? { event, where: this.filter(step['where'], `${where}.where`, depth + 1) } : event;
      this.leave();
      return out;
    });
    return {
      sequence: steps,
      ...(Object.hasOwn(node, 'within') ? { within: this.duration(node['within'], `${at}.within`) } : {}),
      ...(Object.hasOwn(node, 'window') ? { window: this.window(node['window'], `${at}.window`) } : {}),
    };
  }

  segment(node: Record<string, unknown>, at: string): SegmentCondition {
    this.only(node, ['segment'], at);
    const id = node['segment'];
    if (typeof id !== 'string' || !SEGMENT_ID_PATTERN.test(id)) this.fail(`${at}.segment`, `must be a segment id matching ${SEGMENT_ID_PATTERN.source}`);
    return { segment: id };
  }
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/;

/**
 * Epoch milliseconds of an ISO-8601 date or date-time (`2024-01-31`, `2024-01-31T12:00`,
 * `2024-01-31T12:00:00.250+02:00`), or undefined. Without an offset the time is UTC, so the
 * result never depends on the machine's time zone.
 */
export function parseIsoDate(text: string): number | undefined {
  const m = ISO_DATE.exec(text);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? '0')) as [number, number, number, number, number, number];
  const ms = Number(`${m[7] ?? ''}000`.slice(0, 3));
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offset = 0;
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2) || '0');
    if (oh > 23 || om > 59) return undefined;
    offset = (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  return date.getTime() - offset;
}

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] as number;
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
}

/** A trait or property value as a time: epoch milliseconds, or an ISO-8601 string; undefined otherwise. */
export function toTime(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  return typeof value === 'string' ? parseIsoDate(value) : undefined;
}

/** Milliseconds of a duration. */
export function durationMs(d: { readonly last: number; readonly unit: TimeUnit }): number {
  return d.last * UNIT_MS[d.unit];
}

/** The time a relative date stands for at `now`. */
export function relativeTime(r: RelativeDate, now: number): number {
  return 'ago' in r ? now - r.ago * UNIT_MS[r.unit] : now + r.from_now * UNIT_MS[r.unit];
}

/** Structural equality of JSON values (object key order ignored). */
export function jsonEqual(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i] ?? null));
  }
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k] ?? null, b[k] ?? null));
}

function ordered(actual: Json | undefined, value: number | string, op: 'gt' | 'gte' | 'lt' | 'lte'): boolean {
  if (typeof actual !== typeof value) return false;
  const x = actual as number | string;
  switch (op) {
    case 'gt': return x > value;
    case 'gte': return x >= value;
    case 'lt': return x < value;
    case 'lte': return x <= value;
  }
}

/** A value (undefined = absent) against a field test; type mismatches are false, never an error. */
export function testField(actual: Json | undefined, test: FieldTest): boolean {
  switch (test.op) {
    case 'eq': return actual !== undefined && jsonEqual(actual, test.value);
    case 'neq': return actual === undefined || !jsonEqual(actual, test.value);
    case 'in': return actual !== undefined && test.value.some((v) => jsonEqual(actual, v));
    case 'not_in': return actual === undefined || !test.value.some((v) => jsonEqual(actual, v));
    case 'contains':
      if (typeof actual === 'string') return typeof test.value === 'string' && actual.includes(test.value);
      return Array.isArray(actual) && actual.some((v) => jsonEqual(v, test.value));
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return ordered(actual, test.value, test.op);
    case 'between': {
      const [low, high] = test.value;
      return typeof actual === typeof low && (actual as number | string) >= low && (actual as number | string) <= high;
    }
    case 'exists': return actual !== undefined && actual !== null;
    case 'not_exists': return actual === undefined || actual === null;
    case 'before':
    case 'after': {
      const t = toTime(actual);
      const bound = toTime(test.value) as number;
      return t !== undefined && (test.op === 'before' ? t < bound : t > bound);
    }
  }
}

/** True when an event's properties pass the filter. */
export function matchesFilter(filter: PropertyFilter, properties: JsonObject): boolean {
  if ('all' in filter) return filter.all.every((f) => matchesFilter(f, properties));
  if ('any' in filter) return filter.any.some((f) => matchesFilter(f, properties));
  if ('not' in filter) return !matchesFilter(filter.not, properties);
  return testField(Object.hasOwn(properties, filter.property) ? properties[filter.property] : undefined, filter);
}

/** Canonical JSON: keys sorted, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The stable id of an event feature: 16 hex digits of sha256 over canonical JSON of {event, where, property}. */
export function featureId(event: string, where: PropertyFilter | undefined, property: string | undefined): string {
  return createHash('sha256').update(canonicalJson({ event, where, property })).digest('hex').slice(0, 16);
}

const ids = new WeakMap<object, readonly string[]>();

/** Feature ids a condition reads (memoized per node: rules are immutable). Empty when it reads none. */
export function conditionFeatureIds(c: Condition): readonly string[] {
  let found = ids.get(c);
  if (found === undefined) {
    found = featureKeys(c).map((k) => featureId(k.event, k.where, k.property));
    ids.set(c, found);
  }
  return found;
}

/** {event, where, property} of each feature a condition reads; all-time unfiltered counts read `eventCounts` instead. */
export function featureKeys(c: Condition): { event: string; where: PropertyFilter | undefined; property: string | undefined }[] {
  if ('event' in c) {
    if (c.aggregate === undefined && c.where === undefined && c.window === undefined) return [];
    return [{ event: c.event, where: c.where, property: c.aggregate?.property }];
  }
  if ('not_did' in c) return c.where === undefined && c.window === undefined ? [] : [{ event: c.not_did, where: c.where, property: undefined }];
  if ('recency' in c) return c.recency.event === undefined ? [] : [{ event: c.recency.event, where: c.recency.where, property: undefined }];
  if ('sequence' in c) {
    return c.sequence.map((s) => (typeof s === 'string' ? { event: s, where: undefined, property: undefined } : { event: s.event, where: s.where, property: undefined }));
  }
  return [];
}

/** The outcome of one condition: whether it holds and what it looked at (for explanations). */
export interface Observation {
  readonly result: boolean;
  /** Trait value (undefined when absent), aggregate (null for min/max of nothing), last time, matched times, membership. */
  readonly observed: Json | undefined;
}

const NO_OCCURRENCES: readonly Occurrence[] = [];

/** Index of the first occurrence later than `t` (or at `t` when `inclusive`); occurrences are sorted. */
function firstFrom(occurrences: readonly Occurrence[], t: number, inclusive: boolean): number {
  let lo = 0;
  let hi = occurrences.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const at = (occurrences[mid] as Occurrence).at;
    if (at < t || (at === t && !inclusive)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function inWindow(occurrences: readonly Occurrence[], window: Window, now: number): readonly Occurrence[] {
  if ('last' in window) return occurrences.slice(firstFrom(occurrences, now - durationMs(window), false));
  const from = parseIsoDate(window.from) as number;
  const to = parseIsoDate(window.to) as number;
  return occurrences.slice(firstFrom(occurrences, from, true), firstFrom(occurrences, to, true));
}

function ownCount(counts: Readonly<Record<string, number>>, event: string): number {
  return Object.hasOwn(counts, event) ? (counts[event] ?? 0) : 0;
}

/** count, sum, min or max of a condition's occurrences; undefined for min/max of none. */
function aggregateOf(c: EventCondition | NotDidCondition, facts: ProfileFacts): number | undefined {
  const [id] = conditionFeatureIds(c);
  if (id === undefined) return ownCount(facts.eventCounts, 'event' in c ? c.event : c.not_did);
  const fn = 'event' in c ? (c.aggregate?.fn ?? 'count') : 'count';
  const data = facts.features.get(id);
  if (c.window === undefined) {
    const total = data?.total;
    switch (fn) {
      case 'count': return total?.count ?? 0;
      case 'sum': return total?.sum ?? 0;
      case 'min': return total?.min;
      case 'max': return total?.max;
    }
  }
  const occurrences = inWindow(data?.occurrences ?? NO_OCCURRENCES, c.window, facts.now);
  if (fn === 'count') return occurrences.length;
  const values = occurrences.flatMap((o) => (o.value === undefined ? [] : [o.value]));
  if (fn === 'sum') return values.reduce((s, v) => s + v, 0);
  if (values.length === 0) return undefined;
  return fn === 'min' ? Math.min(...values) : Math.max(...values);
}

function compare(c: EventComparison, x: number | undefined): boolean {
  if (x === undefined) return false;
  switch (c.op) {
    case 'gte': return x >= c.value;
    case 'gt': return x > c.value;
    case 'eq': return x === c.value;
    case 'lte': return x <= c.value;
    case 'lt': return x < c.value;
    case 'between': return x >= c.value[0] && x <= c.value[1];
  }
}

function lastOccurrence(data: FeatureData | undefined): number | undefined {
  if (data === undefined) return undefined;
  const last = data.occurrences.reduce<number | undefined>((m, o) => (m === undefined || o.at > m ? o.at : m), undefined);
  const total = data.total.last;
  return last === undefined ? total : total === undefined ? last : Math.max(last, total);
}

/** Index of the first time >= t in sorted `times`, not before `from`. */
function firstAtOrAfter(times: readonly number[], t: number, from: number): number {
  let lo = from;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((times[mid] as number) < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The times of the earliest chain of occurrences, one per step, in order, the last less than
 * `within` after the first; a step that reuses an earlier step's feature needs a later occurrence.
 */
function sequenceMatch(c: SequenceCondition, facts: ProfileFacts): number[] | undefined {
  const featureIds = conditionFeatureIds(c);
  const times = featureIds.map((id) => {
    const occurrences = facts.features.get(id)?.occurrences ?? NO_OCCURRENCES;
    return (c.window === undefined ? occurrences : inWindow(occurrences, c.window, facts.now)).map((o) => o.at);
  });
  const within = c.within === undefined ? Infinity : durationMs(c.within);
  const first = times[0] as number[];
  for (let start = 0; start < first.length; start++) {
    const begin = first[start] as number;
    const used = new Map<string, number>([[featureIds[0] as string, start]]);
    const chain = [begin];
    for (let k = 1; k < featureIds.length; k++) {
      const id = featureIds[k] as string;
      const list = times[k] as number[];
      const j = firstAtOrAfter(list, chain[k - 1] as number, (used.get(id) ?? -1) + 1);
      // Later starts only raise every lower bound: when a step cannot be found, no chain exists.
      if (j >= list.length) return undefined;
      used.set(id, j);
      chain.push(list[j] as number);
    }
    if ((chain[chain.length - 1] as number) - begin < within) return chain;
  }
  return undefined;
}

/** Evaluates one condition and reports what it saw. Pure and total: bad data reads as false. */
export function observe(c: Condition, facts: ProfileFacts): Observation {
  if ('trait' in c) {
    const actual = Object.hasOwn(facts.traits, c.trait) ? facts.traits[c.trait] : undefined;
    if ('relative' in c) {
      const t = toTime(actual);
      const bound = relativeTime(c.relative, facts.now);
      return { result: t !== undefined && (c.op === 'before' ? t < bound : t > bound), observed: actual };
    }
    return { result: testField(actual, c), observed: actual };
  }
  if ('event' in c) {
    const value = aggregateOf(c, facts);
    return { result: compare(c, value), observed: value ?? null };
  }
  if ('not_did' in c) {
    const count = aggregateOf(c, facts) as number;
    return { result: count === 0, observed: count };
  }
  if ('recency' in c) {
    const [id] = conditionFeatureIds(c);
    const last = id === undefined ? facts.lastSeen : lastOccurrence(facts.features.get(id));
    return { result: last !== undefined && last > facts.now - durationMs(c.recency.within), observed: last ?? null };
  }
  if ('sequence' in c) {
    const chain = sequenceMatch(c, facts);
    return { result: chain !== undefined, observed: chain ?? null };
  }
  const member = facts.segments.has(c.segment);
  return { result: member, observed: member };
}

/** True when the facts satisfy the rule. Pure and total. */
export function evaluate(rule: Rule, facts: ProfileFacts): boolean {
  if ('all' in rule) return rule.all.every((r) => evaluate(r, facts));
  if ('any' in rule) return rule.any.some((r) => evaluate(r, facts));
  if ('not' in rule) return !evaluate(rule.not, facts);
  return observe(rule, facts).result;
}

/** Every condition of a rule, depth first. */
export function conditions(rule: Rule): Condition[] {
  if ('all' in rule) return rule.all.flatMap(conditions);
  if ('any' in rule) return rule.any.flatMap(conditions);
  if ('not' in rule) return conditions(rule.not);
  return [rule];
}

/** Candidate change times of one condition: when an occurrence leaves a window, a date passes a bound, a recency lapses. */
function changeTimes(c: Condition, facts: ProfileFacts, out: number[]): void {
  const leaving = (occurrences: readonly Occurrence[], ms: number) => {
    for (const o of occurrences) out.push(Math.ceil(o.at + ms));
  };
  if ('trait' in c) {
    if (!('relative' in c)) return;
    const t = toTime(Object.hasOwn(facts.traits, c.trait) ? facts.traits[c.trait] : undefined);
    if (t === undefined) return;
    // `before` holds once now is strictly past the date plus the offset; `after` stops holding at it.
    const shift = 'ago' in c.relative ? c.relative.ago * UNIT_MS[c.relative.unit] : -c.relative.from_now * UNIT_MS[c.relative.unit];
    out.push(c.op === 'before' ? Math.floor(t + shift) + 1 : Math.ceil(t + shift));
    return;
  }
  if ('recency' in c) {
    const [id] = conditionFeatureIds(c);
    const last = id === undefined ? facts.lastSeen : lastOccurrence(facts.features.get(id));
    if (last !== undefined) out.push(Math.ceil(last + durationMs(c.recency.within)));
    return;
  }
  if ('event' in c || 'not_did' in c || 'sequence' in c) {
    const window = c.window;
    if (window === undefined || !('last' in window)) return;
    for (const id of conditionFeatureIds(c)) leaving(facts.features.get(id)?.occurrences ?? NO_OCCURRENCES, durationMs(window));
  }
}

/** Candidate times simulated before nextChange answers conservatively with the next one. */
const MAX_SIMULATED = 4_096;

/**
 * The earliest time after `facts.now` at which the rule's value changes if no new event arrives,
 * or undefined when it never does. Segment-membership conditions take `facts.segments` as given:
 * the referenced segment's own nextChange covers them.
 */
export function nextChange(rule: Rule, facts: ProfileFacts): number | undefined {
  const times: number[] = [];
  for (const c of conditions(rule)) changeTimes(c, facts, times);
  const candidates = [...new Set(times.filter((t) => t > facts.now))].sort((a, b) => a - b);
  const base = evaluate(rule, facts);
  for (let i = 0; i < candidates.length; i++) {
    const t = candidates[i] as number;
    if (i === MAX_SIMULATED) return t;
    if (evaluate(rule, { ...facts, now: t }) !== base) return t;
  }
  return undefined;
}

/** The segment ids a rule refers to, with the place of each reference. */
export function segmentReferences(rule: Rule, at = 'rule'): { segment: string; field: string }[] {
  if ('all' in rule) return rule.all.flatMap((r, i) => segmentReferences(r, `${at}.all[${i}]`));
  if ('any' in rule) return rule.any.flatMap((r, i) => segmentReferences(r, `${at}.any[${i}]`));
  if ('not' in rule) return segmentReferences(rule.not, `${at}.not`);
  return 'segment' in rule ? [{ segment: rule.segment, field: `${at}.segment` }] : [];
}

/** A problem of one definition among others. `message` starts with `field`, like PulseError messages. */
export interface RuleProblem {
  readonly segment: string;
  readonly field: string;
  readonly message: string;
}

/**
 * Problems that only show among definitions (each rule already valid on its own): references to
 * segments that do not exist, cycles (each segment on a cycle, at the reference that closes it),
 * and chains of references deeper than RULE_LIMITS.referenceDepth. Ids are unique; when one
 * repeats, the last definition counts. Problems come in definition order.
 */
export function validateAll(definitions: readonly { readonly id: string; readonly rule: Rule }[]): RuleProblem[] {
  const refs = new Map<string, { segment: string; field: string }[]>();
  for (const d of definitions) refs.set(d.id, segmentReferences(d.rule));
  const edges = (id: string) => (refs.get(id) ?? []).filter((r) => refs.has(r.segment));
  const component = stronglyConnected([...refs.keys()], (id) => edges(id).map((r) => r.segment));
  const depth = new Map<string, { depth: number; next: string | undefined }>();
  const depthOf = (id: string): { depth: number; next: string | undefined } => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    let best: { depth: number; next: string | undefined } = { depth: 0, next: undefined };
    for (const r of edges(id)) {
      if (component.get(r.segment) === component.get(id)) continue;
      const d = depthOf(r.segment).depth + 1;
      if (d > best.depth) best = { depth: d, next: r.segment };
    }
    depth.set(id, best);
    return best;
  };
  const problems: RuleProblem[] = [];
  const add = (segment: string, field: string, text: string) => problems.push({ segment, field, message: `${field}: ${text}` });
  for (const id of refs.keys()) {
    for (const r of refs.get(id) ?? []) {
      if (!refs.has(r.segment)) {
        add(id, r.field, `segment ${JSON.stringify(r.segment)} does not exist`);
      } else if (component.get(r.segment) === component.get(id)) {
        const back = pathWithin(r.segment, id, (s) => edges(s).map((e) => e.segment).filter((n) => component.get(n) === component.get(id)));
        add(id, r.field, `segment cycle: ${[id, ...back].join(' -> ')}`);
      }
    }
    const { depth: d } = depthOf(id);
    if (d > RULE_LIMITS.referenceDepth) {
      const chain = [id];
      for (let next = depthOf(id).next; next !== undefined; next = depthOf(next).next) chain.push(next);
      const first = edges(id).find((r) => r.segment === chain[1]) as { field: string };
      add(id, first.field, `segment references nested ${d} deep (at most ${RULE_LIMITS.referenceDepth}): ${chain.join(' -> ')}`);
    }
  }
  return problems;
}

/** Tarjan's strongly connected components: node -> component number. */
function stronglyConnected(nodes: readonly string[], next: (n: string) => readonly string[]): Map<string, number> {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const component = new Map<string, number>();
  let counter = 0;
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
      }
    }
    if (low.get(v) === index.get(v)) {
      const c = component.size;
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.set(w, c);
      } while (w !== v);
    }
  };
  for (const n of nodes) if (!index.has(n)) visit(n);
  return component;
}

/** The shortest path from `from` to `to` (both included), following `next`. */
function pathWithin(from: string, to: string, next: (n: string) => readonly string[]): string[] {
  const previous = new Map<string, string | undefined>([[from, undefined]]);
  const queue = [from];
  for (let i = 0; i < queue.length && !previous.has(to); i++) {
    const n = queue[i] as string;
    for (const m of next(n)) {
      if (!previous.has(m)) {
        previous.set(m, n);
        queue.push(m);
      }
    }
  }
  const path: string[] = [];
  for (let n: string | undefined = to; n !== undefined; n = previous.get(n)) path.unshift(n);
  return path;
}
