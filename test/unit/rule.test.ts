import t from 'tap';
import { PulseError } from '../../src/errors.ts';
import type { JsonObject } from '../../src/json.ts';
import {
  evaluate, factsFrom, jsonEqual, nextChange, parseIsoDate, parseRule, RULE_LIMITS, segmentReferences, toTime, validateAll, validateRule,
  type ProfileFacts, type Rule,
} from '../../src/segments/rule.ts';
import { factsFor, Generator, type TestEvent } from './rule-generator.ts';

/** The PulseError `fn` throws, or a failure when it does not throw one. */
function failure(fn: () => unknown): { code: string; field: string | undefined; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof PulseError) return { code: err.code, field: err.field, message: err.message };
    throw err;
  }
  throw new Error('expected a PulseError');
}
const ruleError = (text: string) => failure(() => parseRule(text));
const j = (v: unknown): string => JSON.stringify(v);

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2024, 4, 1, 12); // 2024-05-01T12:00:00Z

function facts(over: Partial<ProfileFacts> = {}): ProfileFacts {
  return { now: NOW, traits: {}, eventCounts: {}, lastSeen: undefined, features: new Map(), segments: new Set(), ...over };
}

/** Evaluates a JSON rule against facts built from events, as the store would. */
function holds(rule: unknown, events: readonly TestEvent[] = [], over: Partial<ProfileFacts> = {}): boolean {
  const parsed = validateRule(rule);
  return evaluate(parsed, factsFor([parsed], events, { now: NOW, ...over }));
}

void t.test('parses every kind of node', async (t) => {
  const rule = {
    all: [
      { trait: 'plan', op: 'eq', value: 'pro' },
      { trait: 'country', op: 'neq', value: { code: ['FR'] } },
      { trait: 'email', op: 'exists' },
      { trait: 'signup_at', op: 'before', relative: { ago: 30, unit: 'days' } },
      { event: 'Purchase', where: { property: 'category', op: 'eq', value: 'shoes' }, aggregate: { fn: 'sum', property: 'revenue' }, window: { last: 7, unit: 'days' }, op: 'gte', value: 100 },
      { event: 'Visit', window: { from: '2024-01-01', to: '2024-02-01' }, op: 'between', value: [1, 5] },
      { not_did: 'Purchase', window: { last: 30, unit: 'days' } },
      { recency: { within: { last: 3, unit: 'days' } } },
      { recency: { within: { last: 3, unit: 'days' }, event: 'Purchase', where: { not: { property: 'test', op: 'eq', value: true } } } },
      { sequence: ['Add To Cart', { event: 'Purchase', where: { property: 'x', op: 'exists' } }], within: { last: 1, unit: 'hours' }, window: { last: 30, unit: 'days' } },
      { any: [{ segment: 'pro-buyers' }, { not: { trait: 'churned', op: 'eq', value: true } }] },
    ],
  };
  t.strictSame(parseRule(j(rule)), rule, 'canonical input comes back as given');
  t.strictSame(parseRule('{"trait":"x","op":"eq","value":null}'), { trait: 'x', op: 'eq', value: null }, 'a null value is a value');
});

void t.test('canonical forms: the same meaning has one tree', async (t) => {
  t.strictSame(parseRule(j({ event: 'Purchase', op: 'gte', count: 2 })), { event: 'Purchase', op: 'gte', value: 2 }, 'legacy count is value');
  t.strictSame(parseRule(j({ event: 'Purchase', aggregate: { fn: 'count' }, op: 'gt', value: 2 })), { event: 'Purchase', op: 'gt', value: 2 }, 'count is the default aggregate');
  t.strictSame(parseRule(j({ event: 'Purchase', window: { last: 30, unit: 'days' }, op: 'eq', value: 0 })), { not_did: 'Purchase', window: { last: 30, unit: 'days' } }, 'count = 0 is not_did');
  t.strictSame(parseRule(j({ event: 'P', where: { property: 'a', op: 'exists' }, aggregate: { fn: 'count' }, op: 'eq', value: 0 })), { not_did: 'P', where: { property: 'a', op: 'exists' } });
  t.strictSame(parseRule(j({ event: 'P', aggregate: { fn: 'sum', property: 'r' }, op: 'eq', value: 0 })), { event: 'P', aggregate: { fn: 'sum', property: 'r' }, op: 'eq', value: 0 }, 'a sum of 0 stays');
  t.strictSame(parseRule(j({ sequence: [{ event: 'A' }, 'B'] })), { sequence: ['A', 'B'] }, 'a step without filter is its name');
  const rule = new Generator(1).rule();
  const once = validateRule(rule);
  t.strictSame(validateRule(once), once, 'validation is idempotent');
});

void t.test('invalid JSON, non-objects, missing kind', async (t) => {
  const bad = ruleError('{"all":');
  t.equal(bad.code, 'INVALID_ARGUMENT');
  t.equal(bad.field, 'rule');
  t.match(bad.message, /^rule: not valid JSON \(.+\)$/);
  t.same(ruleError('[]'), { code: 'INVALID_ARGUMENT', field: 'rule', message: 'rule: must be an object' });
  t.same(ruleError('"plan"'), { code: 'INVALID_ARGUMENT', field: 'rule', message: 'rule: must be an object' });
  t.same(ruleError('null'), { code: 'INVALID_ARGUMENT', field: 'rule', message: 'rule: must be an object' });
  t.same(ruleError('{}'), { code: 'INVALID_ARGUMENT', field: 'rule', message: 'rule: must have one of all, any, not, trait, event, not_did, recency, sequence, segment' });
  t.same(ruleError('{"all":[{"trait":"a","op":"exists"},7]}'), { code: 'INVALID_ARGUMENT', field: 'rule.all[1]', message: 'rule.all[1]: must be an object' });
  t.same(ruleError(' '.repeat(RULE_LIMITS.sourceLength + 1)), { code: 'INVALID_ARGUMENT', field: 'rule', message: 'rule: longer than 65536 characters' });
});

/** [rule, field, message after "field: "] for every validation message. */
const PROBLEMS: [unknown, string, string][] = [
  // groups
  [{ all: [] }, 'rule.all', 'must be a non-empty list'],
  [{ any: { trait: 'a', op: 'exists' } }, 'rule.any', 'must be a non-empty list'],
  [{ not: { any: [] } }, 'rule.not.any', 'must be a non-empty list'],
  [{ all: [{ trait: 'a', op: 'exists' }], any: [] }, 'rule', 'unknown key "any" (allowed: all)'],
  [{ any: [{ trait: 'a', op: 'exists' }], label: 'x' }, 'rule', 'unknown key "label" (allowed: any)'],
  [{ not: { trait: 'a', op: 'exists' }, all: [] }, 'rule', 'unknown key "not" (allowed: all)'],
  [{ all: [{ not: { trait: 'a', op: 'exists' }, extra: 1 }] }, 'rule.all[0]', 'unknown key "extra" (allowed: not)'],
  // traits
  [{ trait: '', op: 'exists' }, 'rule.trait', 'must be a trait name (1-256 characters)'],
  [{ trait: 'x'.repeat(257), op: 'exists' }, 'rule.trait', 'must be a trait name (1-256 characters)'],
  [{ trait: 3, op: 'exists' }, 'rule.trait', 'must be a trait name (1-256 characters)'],
  [{ trait: 'a', op: 'like', value: 1 }, 'rule.op', 'must be one of eq, neq, exists, not_exists, in, not_in, contains, gt, gte, lt, lte, between, before, after'],
  [{ trait: 'a' }, 'rule.op', 'must be one of eq, neq, exists, not_exists, in, not_in, contains, gt, gte, lt, lte, between, before, after'],
  [{ trait: 'a', op: 'eq', value: 1, extra: true }, 'rule', 'unknown key "extra" (allowed: trait, op, value)'],
  [{ trait: 'a', op: 'exists', value: 1 }, 'rule', 'unknown key "value" (allowed: trait, op)'],
  [{ trait: 'a', op: 'not_exists', value: 1 }, 'rule', 'unknown key "value" (allowed: trait, op)'],
  [{ trait: 'a', event: 'b', op: 'exists' }, 'rule', 'unknown key "event" (allowed: trait, op)'],
  [{ not: { trait: 'plan', op: 'eq' } }, 'rule.not.value', 'required for eq'],
  [{ trait: 'a', op: 'contains' }, 'rule.value', 'required for contains'],
  [{ trait: 'a', op: 'in', value: [] }, 'rule.value', 'must be a list of 1 to 1000 JSON values'],
  [{ trait: 'a', op: 'not_in', value: 'x' }, 'rule.value', 'must be a list of 1 to 1000 JSON values'],
  [{ trait: 'a', op: 'in', value: Array.from({ length: 1001 }, (_, i) => i) }, 'rule.value', 'must be a list of 1 to 1000 JSON values'],
  [{ trait: 'a', op: 'gt', value: true }, 'rule.value', 'must be a number or a string'],
  [{ trait: 'a', op: 'lte', value: [1] }, 'rule.value', 'must be a number or a string'],
  [{ trait: 'a', op: 'between', value: [2, 1] }, 'rule.value', 'must be [low, high]: two numbers or two strings, low <= high'],
  [{ trait: 'a', op: 'between', value: [1, 'z'] }, 'rule.value', 'must be [low, high]: two numbers or two strings, low <= high'],
  [{ trait: 'a', op: 'between', value: ['b', 'a'] }, 'rule.value', 'must be [low, high]: two numbers or two strings, low <= high'],
  [{ trait: 'a', op: 'between', value: [1, 2, 3] }, 'rule.value', 'must be [low, high]: two numbers or two strings, low <= high'],
  [{ trait: 'a', op: 'before' }, 'rule.value', 'required for before: an ISO-8601 date or epoch milliseconds, or give relative'],
  [{ trait: 'a', op: 'after', value: '2024-02-30' }, 'rule.value', 'must be an ISO-8601 date (2024-01-31, 2024-01-31T12:00:00Z) or epoch milliseconds'],
  [{ trait: 'a', op: 'after', value: true }, 'rule.value', 'must be an ISO-8601 date (2024-01-31, 2024-01-31T12:00:00Z) or epoch milliseconds'],
  [{ trait: 'a', op: 'before', value: 1, relative: { ago: 1, unit: 'days' } }, 'rule', 'give value or relative, not both'],
  [{ trait: 'a', op: 'eq', value: 1, relative: { ago: 1, unit: 'days' } }, 'rule', 'unknown key "relative" (allowed: trait, op, value)'],
  [{ trait: 'a', op: 'before', relative: 30 }, 'rule.relative', 'must be {"ago": N, "unit": U} or {"from_now": N, "unit": U}'],
  [{ trait: 'a', op: 'before', relative: { unit: 'days' } }, 'rule.relative', 'must be {"ago": N, "unit": U} or {"from_now": N, "unit": U}'],
  [{ trait: 'a', op: 'before', relative: { ago: 1, from_now: 1, unit: 'days' } }, 'rule.relative', 'unknown key "from_now" (allowed: ago, unit)'],
  [{ trait: 'a', op: 'before', relative: { ago: -1, unit: 'days' } }, 'rule.relative.ago', 'must be an integer from 0 to 10000'],
  [{ trait: 'a', op: 'before', relative: { ago: 1.5, unit: 'days' } }, 'rule.relative.ago', 'must be an integer from 0 to 10000'],
  [{ trait: 'a', op: 'after', relative: { from_now: 0, unit: 'days' } }, 'rule.relative.from_now', 'must be an integer from 1 to 10000'],
  [{ trait: 'a', op: 'after', relative: { from_now: 10_001, unit: 'days' } }, 'rule.relative.from_now', 'must be an integer from 1 to 10000'],
  [{ trait: 'a', op: 'after', relative: { ago: 1, unit: 'day' } }, 'rule.relative.unit', 'must be one of minutes, hours, days, weeks'],
  // events
  [{ event: '', op: 'gte', count: 1 }, 'rule.event', 'must be an event name (1-256 characters)'],
  [{ event: 'e'.repeat(257), op: 'gte', value: 1 }, 'rule.event', 'must be an event name (1-256 characters)'],
  [{ any: [{ event: 'Purchase', op: 'eq', count: 1 }] }, 'rule.any[0].op', 'must be gte (did the event at least `count` times)'],
  [{ event: 'Buy', op: 'gte', count: 0 }, 'rule.count', 'must be an integer >= 1'],
  [{ event: 'Buy', op: 'gte', count: '2' }, 'rule.count', 'must be an integer >= 1'],
  [{ event: 'Buy', op: 'gte', count: 1, window: { last: 1, unit: 'days' } }, 'rule', 'unknown key "window" (allowed: event, op, count)'],
  [{ event: 'Buy', op: 'gte', value: 1, label: 'x' }, 'rule', 'unknown key "label" (allowed: event, where, aggregate, window, op, value)'],
  [{ event: 'Buy', aggregate: 'sum', op: 'gte', value: 1 }, 'rule.aggregate', 'must be {"fn": "count"} or {"fn": "sum" | "min" | "max", "property": P}'],
  [{ event: 'Buy', aggregate: { fn: 'avg', property: 'r' }, op: 'gte', value: 1 }, 'rule.aggregate.fn', 'must be one of count, sum, min, max'],
  [{ event: 'Buy', aggregate: { fn: 'count', property: 'r' }, op: 'gte', value: 1 }, 'rule.aggregate', 'unknown key "property" (allowed: fn)'],
  [{ event: 'Buy', aggregate: { fn: 'sum' }, op: 'gte', value: 1 }, 'rule.aggregate.property', 'must be a property name (1-256 characters)'],
  [{ event: 'Buy', window: '7d', op: 'gte', value: 1 }, 'rule.window', 'must be {"last": N, "unit": U} or {"from": DATE, "to": DATE}'],
  [{ event: 'Buy', window: { days: 7 }, op: 'gte', value: 1 }, 'rule.window', 'must be {"last": N, "unit": U} or {"from": DATE, "to": DATE}'],
  [{ event: 'Buy', window: { last: 0, unit: 'days' }, op: 'gte', value: 1 }, 'rule.window.last', 'must be an integer from 1 to 10000'],
  [{ event: 'Buy', window: { last: 10_001, unit: 'days' }, op: 'gte', value: 1 }, 'rule.window.last', 'must be an integer from 1 to 10000'],
  [{ all: [{ trait: 'a', op: 'exists' }, { event: 'Buy', window: { last: 7, unit: 'months' }, op: 'gte', value: 1 }] }, 'rule.all[1].window.unit', 'must be one of minutes, hours, days, weeks'],
  [{ event: 'Buy', window: { last: 7, unit: 'days', from: '2024-01-01' }, op: 'gte', value: 1 }, 'rule.window', 'unknown key "from" (allowed: last, unit)'],
  [{ event: 'Buy', window: { from: '2024-01-01', to: '2024-02-01', last: 1 }, op: 'gte', value: 1 }, 'rule.window', 'unknown key "from" (allowed: last, unit)'],
  [{ event: 'Buy', window: { from: '2024-01-01', to: '2024-02-01', until: 1 }, op: 'gte', value: 1 }, 'rule.window', 'unknown key "until" (allowed: from, to)'],
  [{ event: 'Buy', window: { from: 1_700_000_000_000, to: '2024-02-01' }, op: 'gte', value: 1 }, 'rule.window.from', 'must be an ISO-8601 date (2024-01-31, 2024-01-31T12:00:00Z)'],
  [{ event: 'Buy', window: { from: '2024-01-01' }, op: 'gte', value: 1 }, 'rule.window.to', 'must be an ISO-8601 date (2024-01-31, 2024-01-31T12:00:00Z)'],
  [{ event: 'Buy', window: { from: '2024-01-01', to: '2024-01-01T00:00:00Z' }, op: 'gte', value: 1 }, 'rule.window.to', 'must be later than from'],
  [{ event: 'Buy', op: 'neq', value: 1 }, 'rule.op', 'must be one of gte, gt, eq, lte, lt, between'],
  [{ event: 'Buy', value: 1 }, 'rule.op', 'must be one of gte, gt, eq, lte, lt, between'],
  [{ event: 'Buy', op: 'gte' }, 'rule.value', 'required for gte'],
  [{ event: 'Buy', op: 'gte', value: 1.5 }, 'rule.value', 'must be an integer >= 0'],
  [{ event: 'Buy', op: 'gte', value: -1 }, 'rule.value', 'must be an integer >= 0'],
  [{ event: 'Buy', aggregate: { fn: 'min', property: 'p' }, op: 'gte', value: '1' }, 'rule.value', 'must be a number'],
  [{ event: 'Buy', op: 'between', value: [3, 1] }, 'rule.value', 'must be [low, high]: two integers >= 0, low <= high'],
  [{ event: 'Buy', op: 'between', value: 3 }, 'rule.value', 'must be [low, high]: two integers >= 0, low <= high'],
  [{ event: 'Buy', aggregate: { fn: 'sum', property: 'p' }, op: 'between', value: [1, null] }, 'rule.value', 'must be [low, high]: two numbers, low <= high'],
  // where
  [{ event: 'Buy', where: [], op: 'gte', value: 1 }, 'rule.where', 'must be an object'],
  [{ event: 'Buy', where: { trait: 'a', op: 'exists' }, op: 'gte', value: 1 }, 'rule.where', 'must have one of all, any, not, property'],
  [{ event: 'Buy', where: { all: [{ property: '', op: 'exists' }] }, op: 'gte', value: 1 }, 'rule.where.all[0].property', 'must be a property name (1-256 characters)'],
  [{ event: 'Buy', where: { property: 'p', op: 'before', relative: { ago: 1, unit: 'days' } }, op: 'gte', value: 1 }, 'rule.where.relative', 'relative dates are not allowed on event properties (filters apply when the event arrives)'],
  [{ event: 'Buy', where: { property: 'p', op: 'before' }, op: 'gte', value: 1 }, 'rule.where.value', 'required for before: an ISO-8601 date or epoch milliseconds'],
  [{ event: 'Buy', where: { property: 'p', op: 'eq', value: 1, x: 1 }, op: 'gte', value: 1 }, 'rule.where', 'unknown key "x" (allowed: property, op, value)'],
  // not_did
  [{ not_did: 3 }, 'rule.not_did', 'must be an event name (1-256 characters)'],
  [{ not_did: 'Buy', op: 'eq' }, 'rule', 'unknown key "op" (allowed: not_did, where, window)'],
  [{ not_did: 'Buy', window: { last: 1, unit: 'years' } }, 'rule.window.unit', 'must be one of minutes, hours, days, weeks'],
  // recency
  [{ recency: 3 }, 'rule.recency', 'must be {"within": {"last": N, "unit": U}} with optional event and where'],
  [{ recency: {} }, 'rule.recency.within', 'required: {"last": N, "unit": U}'],
  [{ recency: { within: { from: '2024-01-01', to: '2024-02-01' } } }, 'rule.recency.within', 'unknown key "from" (allowed: last, unit)'],
  [{ recency: { within: 3 } }, 'rule.recency.within', 'must be {"last": N, "unit": U}'],
  [{ recency: { within: { unit: 'days' } } }, 'rule.recency.within', 'must be {"last": N, "unit": U}'],
  [{ recency: { within: { last: 3, unit: 'days' }, event: '' } }, 'rule.recency.event', 'must be an event name (1-256 characters)'],
  [{ recency: { within: { last: 3, unit: 'days' }, where: { property: 'a', op: 'exists' } } }, 'rule.recency.where', 'needs event (a filter applies to one event)'],
  [{ recency: { within: { last: 3, unit: 'days' }, window: {} } }, 'rule.recency', 'unknown key "window" (allowed: within, event, where)'],
  [{ recency: { within: { last: 3, unit: 'days' } }, event: 'x' }, 'rule', 'unknown key "recency" (allowed: event, where, aggregate, window, op, value)'],
  // sequence
  [{ sequence: ['A'] }, 'rule.sequence', 'must be a list of 2 to 8 steps'],
  [{ sequence: 'A' }, 'rule.sequence', 'must be a list of 2 to 8 steps'],
  [{ sequence: Array.from({ length: 9 }, (_, i) => `E${i}`) }, 'rule.sequence', 'must be a list of 2 to 8 steps'],
  [{ sequence: ['A', 7] }, 'rule.sequence[1]', 'must be an event name or {"event": E, "where": F}'],
  [{ sequence: ['A', ''] }, 'rule.sequence[1]', 'must be an event name (1-256 characters)'],
  [{ sequence: ['A', { event: 'B', window: {} }] }, 'rule.sequence[1]', 'unknown key "window" (allowed: event, where)'],
  [{ sequence: ['A', { where: { property: 'a', op: 'exists' } }] }, 'rule.sequence[1].event', 'must be an event name (1-256 characters)'],
  [{ sequence: ['A', { event: 'B', where: { property: 'a', op: 'is' } }] }, 'rule.sequence[1].where.op', 'must be one of eq, neq, exists, not_exists, in, not_in, contains, gt, gte, lt, lte, between, before, after'],
  [{ sequence: ['A', 'B'], within: { last: 0, unit: 'hours' } }, 'rule.within.last', 'must be an integer from 1 to 10000'],
  [{ sequence: ['A', 'B'], count: 2 }, 'rule', 'unknown key "count" (allowed: sequence, within, window)'],
  // segment
  [{ segment: 'Pro Buyers' }, 'rule.segment', 'must be a segment id matching ^[a-z0-9][a-z0-9_-]{0,63}$'],
  [{ segment: 'a', negate: true }, 'rule', 'unknown key "negate" (allowed: segment)'],
];

void t.test('every validation problem names its place', async (t) => {
  for (const [rule, field, message] of PROBLEMS) {
    t.same(ruleError(j(rule)), { code: 'INVALID_ARGUMENT', field, message: `${field}: ${message}` }, j(rule).slice(0, 120));
  }
  t.same(failure(() => validateRule({ trait: 'a', op: 'eq', value: Number.NaN })), { code: 'INVALID_ARGUMENT', field: 'rule.value', message: 'rule.value: must be a JSON value' });
  t.same(failure(() => validateRule({ trait: 'a', op: 'eq', value: { d: new Date(0) } })).message, 'rule.value: must be a JSON value');
  t.same(failure(() => validateRule({ trait: 'a', op: 'contains', value: undefined })).message, 'rule.value: must be a JSON value');
  t.same(failure(() => validateRule({ trait: 'a', op: 'in', value: [1, Infinity] })).message, 'rule.value: must be a list of 1 to 1000 JSON values');
  let deep: unknown = 1;
  for (let i = 0; i < 70; i++) deep = [deep];
  t.same(failure(() => validateRule({ trait: 'a', op: 'eq', value: deep })).message, 'rule.value: must be a JSON value', 'values nested past 64 levels');
});

function nots(depth: number): unknown {
  let node: unknown = { trait: 'a', op: 'exists' };
  for (let i = 0; i < depth; i++) node = { not: node };
  return node;
}

void t.test('depth limit: 16 levels are fine, 17 are not; filters count', async (t) => {
  t.doesNotThrow(() => parseRule(j(nots(16))));
  const place = `rule${'.not'.repeat(17)}`;
  t.same(ruleError(j(nots(17))), { code: 'INVALID_ARGUMENT', field: place, message: `${place}: nested deeper than 16` });
  let where: unknown = { property: 'a', op: 'exists' };
  for (let i = 0; i < 16; i++) where = { not: where };
  t.equal(ruleError(j({ event: 'E', where, op: 'gte', value: 1 })).message, `rule.where${'.not'.repeat(16)}: nested deeper than 16`, 'a where filter is one level below its condition');
});

void t.test('size limit: 256 nodes are fine, 257 are not', async (t) => {
  const leaves = (n: number) => Array.from({ length: n }, (_, i) => ({ trait: `t${i}`, op: 'exists' }));
  t.equal((parseRule(j({ any: leaves(255) })) as { any: Rule[] }).any.length, 255, 'root + 255 leaves = 256 nodes');
  t.same(ruleError(j({ any: leaves(256) })), { code: 'INVALID_ARGUMENT', field: 'rule.any[255]', message: 'rule.any[255]: more than 256 conditions' });
  const filter = { any: leaves(253).map((l) => ({ property: l.trait, op: 'exists' })) };
  t.doesNotThrow(() => parseRule(j({ all: [{ event: 'E', where: filter, op: 'gte', value: 1 }] })), '1 + 1 + 1 + 253 = 256');
  t.equal(ruleError(j({ all: [{ trait: 'x', op: 'exists' }, { event: 'E', where: filter, op: 'gte', value: 1 }] })).field, 'rule.all[1].where.any[252]');
});

void t.test('ISO-8601 dates and epoch milliseconds', async (t) => {
  t.equal(parseIsoDate('2024-01-31'), Date.UTC(2024, 0, 31), 'a date is UTC midnight');
  t.equal(parseIsoDate('2024-01-31T12:30'), Date.UTC(2024, 0, 31, 12, 30), 'no offset: UTC');
  t.equal(parseIsoDate('2024-01-31 12:30:15'), Date.UTC(2024, 0, 31, 12, 30, 15), 'space separator');
  t.equal(parseIsoDate('2024-01-31T12:30:15.5Z'), Date.UTC(2024, 0, 31, 12, 30, 15, 500));
  t.equal(parseIsoDate('2024-01-31T12:30:15,123456789Z'), Date.UTC(2024, 0, 31, 12, 30, 15, 123), 'fractions past ms are cut');
  t.equal(parseIsoDate('2024-01-31T12:00:00+02:00'), Date.UTC(2024, 0, 31, 10));
  t.equal(parseIsoDate('2024-01-31T12:00:00-0130'), Date.UTC(2024, 0, 31, 13, 30));
  t.equal(parseIsoDate('2024-01-31T12:00:00+05'), Date.UTC(2024, 0, 31, 7));
  t.equal(parseIsoDate('0050-06-01'), Date.UTC(2050, 5, 1) - 5 * 146_097 * DAY, 'year 50 is not 1950 (2000 years = five 400-year cycles)');
  t.equal(parseIsoDate('2024-02-29'), Date.UTC(2024, 1, 29), 'leap day');
  t.equal(parseIsoDate('2000-02-29'), Date.UTC(2000, 1, 29), '400-year leap day');
  for (const bad of ['2023-02-29', '1900-02-29', '2024-04-31', '2024-13-01', '2024-00-10', '2024-01-00', '2024-01-31T24:00', '2024-01-31T12:60',
    '2024-01-31T12:00:60', '2024-01-31T12:00+24:00', '2024-01-31T12:00+01:60', '2024-1-31', '24-01-31', '2024-01-31Z', '2024-01-31T12', 'yesterday', '', ' 2024-01-31']) {
    t.equal(parseIsoDate(bad), undefined, bad);
  }
  t.equal(toTime(1_700_000_000_000), 1_700_000_000_000);
  t.equal(toTime(-1.5), -1.5, 'epoch ms may be negative or fractional');
  t.equal(toTime('2024-01-31'), Date.UTC(2024, 0, 31));
  for (const [i, bad] of [Infinity, Number.NaN, true, null, [1], {}, undefined, '1700000000000'].entries()) t.equal(toTime(bad), undefined, `not a time (${i})`);
});

const person: JsonObject = { plan: 'pro', age: 30, gone: null, tags: ['a', 'b', { k: 1 }], bio: 'likes shoes', address: { city: 'Paris', geo: { lat: 48.8, lon: 2.3 } }, signup_at: '2024-04-01T12:00:00Z', seen_ms: NOW - 2 * DAY, vip: true };
const check = (rule: unknown): boolean => holds(rule, [], { traits: person });

void t.test('trait eq and neq compare JSON values', async (t) => {
  t.equal(check({ trait: 'plan', op: 'eq', value: 'pro' }), true);
  t.equal(check({ trait: 'plan', op: 'eq', value: 'free' }), false);
  t.equal(check({ trait: 'age', op: 'eq', value: 30 }), true);
  t.equal(check({ trait: 'age', op: 'eq', value: '30' }), false, 'no type coercion');
  t.equal(check({ trait: 'plan', op: 'neq', value: 'free' }), true);
  t.equal(check({ trait: 'plan', op: 'neq', value: 'pro' }), false);
  t.equal(check({ trait: 'missing', op: 'eq', value: null }), false, 'a missing trait is not null');
  t.equal(check({ trait: 'missing', op: 'neq', value: 'x' }), true, 'a missing trait differs from any value');
  t.equal(check({ trait: 'gone', op: 'eq', value: null }), true);
  t.equal(check({ trait: 'toString', op: 'eq', value: null }), false, 'inherited properties are not traits');
  t.equal(check({ trait: 'address', op: 'eq', value: { geo: { lon: 2.3, lat: 48.8 }, city: 'Paris' } }), true, 'nested objects, key order ignored');
  t.equal(check({ trait: 'address', op: 'eq', value: { city: 'Paris' } }), false, 'a subset is not equal');
  t.equal(check({ trait: 'tags', op: 'eq', value: ['a', 'b', { k: 1 }] }), true);
  t.equal(check({ trait: 'tags', op: 'eq', value: ['b', 'a', { k: 1 }] }), false, 'array order matters');
});

void t.test('trait in, not_in, contains', async (t) => {
  t.equal(check({ trait: 'plan', op: 'in', value: ['free', 'pro'] }), true);
  t.equal(check({ trait: 'plan', op: 'in', value: ['free'] }), false);
  t.equal(check({ trait: 'age', op: 'in', value: ['30'] }), false, 'no coercion');
  t.equal(check({ trait: 'address', op: 'in', value: [{ city: 'Paris', geo: { lat: 48.8, lon: 2.3 } }] }), true, 'objects compare structurally');
  t.equal(check({ trait: 'missing', op: 'in', value: [null] }), false, 'missing is not null');
  t.equal(check({ trait: 'gone', op: 'in', value: [null] }), true);
  t.equal(check({ trait: 'plan', op: 'not_in', value: ['free'] }), true);
  t.equal(check({ trait: 'plan', op: 'not_in', value: ['pro', 'free'] }), false);
  t.equal(check({ trait: 'missing', op: 'not_in', value: ['x'] }), true, 'like neq, a missing trait is in no list');
  t.equal(check({ trait: 'bio', op: 'contains', value: 'shoe' }), true, 'substring');
  t.equal(check({ trait: 'bio', op: 'contains', value: 'Shoe' }), false, 'case-sensitive');
  t.equal(check({ trait: 'bio', op: 'contains', value: '' }), true, 'every string contains the empty string');
  t.equal(check({ trait: 'bio', op: 'contains', value: 1 }), false, 'a string does not contain a number');
  t.equal(check({ trait: 'tags', op: 'contains', value: 'a' }), true, 'array element');
  t.equal(check({ trait: 'tags', op: 'contains', value: { k: 1 } }), true, 'array element, structurally');
  t.equal(check({ trait: 'tags', op: 'contains', value: 'c' }), false);
  t.equal(check({ trait: 'age', op: 'contains', value: 3 }), false, 'a number contains nothing');
  t.equal(check({ trait: 'address', op: 'contains', value: 'Paris' }), false, 'an object contains nothing');
  t.equal(check({ trait: 'missing', op: 'contains', value: 'a' }), false);
});

void t.test('trait gt, gte, lt, lte, between: same types only', async (t) => {
  const cases: [string, unknown, boolean][] = [
    ['gt', 29, true], ['gt', 30, false], ['gte', 30, true], ['gte', 31, false], ['lt', 31, true], ['lt', 30, false], ['lte', 30, true], ['lte', 29, false],
    ['gt', '29', false], ['lt', 'zzz', false],
  ];
  for (const [op, value, want] of cases) t.equal(check({ trait: 'age', op, value }), want, `age ${op} ${j(value)}`);
  t.equal(check({ trait: 'plan', op: 'gt', value: 'free' }), true, 'strings compare by code units');
  t.equal(check({ trait: 'plan', op: 'lt', value: 'free' }), false);
  t.equal(check({ trait: 'plan', op: 'gte', value: 'pro' }), true);
  t.equal(check({ trait: 'plan', op: 'lte', value: 'pro' }), true);
  t.equal(check({ trait: 'plan', op: 'gt', value: 1 }), false, 'a string is not greater than a number');
  t.equal(check({ trait: 'vip', op: 'gt', value: 0 }), false, 'booleans are not numbers');
  t.equal(check({ trait: 'gone', op: 'lt', value: 1 }), false, 'null is not a number');
  t.equal(check({ trait: 'missing', op: 'lt', value: 1 }), false);
  t.equal(check({ trait: 'age', op: 'between', value: [30, 40] }), true, 'inclusive low');
  t.equal(check({ trait: 'age', op: 'between', value: [20, 30] }), true, 'inclusive high');
  t.equal(check({ trait: 'age', op: 'between', value: [30, 30] }), true);
  t.equal(check({ trait: 'age', op: 'between', value: [31, 40] }), false);
  t.equal(check({ trait: 'age', op: 'between', value: ['a', 'z'] }), false, 'type mismatch');
  t.equal(check({ trait: 'plan', op: 'between', value: ['p', 'q'] }), true, 'strings');
  t.equal(check({ trait: 'plan', op: 'between', value: [0, 100] }), false);
  t.equal(check({ trait: 'tags', op: 'between', value: [0, 100] }), false, 'arrays never compare');
});

void t.test('trait exists and not_exists', async (t) => {
  t.equal(check({ trait: 'plan', op: 'exists' }), true);
  t.equal(check({ trait: 'gone', op: 'exists' }), false, 'null does not exist');
  t.equal(check({ trait: 'missing', op: 'exists' }), false);
  t.equal(check({ trait: 'constructor', op: 'exists' }), false, 'inherited properties do not exist');
  t.equal(check({ trait: 'plan', op: 'not_exists' }), false);
  t.equal(check({ trait: 'gone', op: 'not_exists' }), true);
  t.equal(check({ trait: 'missing', op: 'not_exists' }), true);
});

void t.test('trait before and after an absolute date: strict, ISO or epoch ms on both sides', async (t) => {
  const signup = Date.UTC(2024, 3, 1, 12);
  t.equal(check({ trait: 'signup_at', op: 'before', value: '2024-04-02' }), true);
  t.equal(check({ trait: 'signup_at', op: 'before', value: '2024-04-01T12:00:00Z' }), false, 'equal is not before');
  t.equal(check({ trait: 'signup_at', op: 'after', value: '2024-04-01T12:00:00Z' }), false, 'equal is not after');
  t.equal(check({ trait: 'signup_at', op: 'after', value: signup - 1 }), true, 'epoch ms bound');
  t.equal(check({ trait: 'signup_at', op: 'before', value: '2024-04-01T14:00:00+02:00' }), false, 'offsets count: that is the same instant');
  t.equal(check({ trait: 'seen_ms', op: 'after', value: '2024-04-28' }), true, 'an epoch-ms trait');
  t.equal(check({ trait: 'seen_ms', op: 'before', value: NOW }), true);
  for (const trait of ['plan', 'vip', 'tags', 'gone', 'missing', 'address']) {
    t.equal(check({ trait, op: 'before', value: NOW }), false, `${trait}: not a date`);
    t.equal(check({ trait, op: 'after', value: 0 }), false, `${trait}: not a date`);
  }
});

void t.test('trait before and after relative dates, at the edges', async (t) => {
  const at = (trait: number | string, rule: Record<string, unknown>, now = NOW) => holds({ trait: 'd', ...rule }, [], { now, traits: { d: trait } });
  const ago30 = { op: 'before', relative: { ago: 30, unit: 'days' } };
  t.equal(at(NOW - 30 * DAY - 1, ago30), true, '30 days and 1 ms ago is before 30 days ago');
  t.equal(at(NOW - 30 * DAY, ago30), false, 'exactly 30 days ago is not before it');
  t.equal(at(new Date(NOW - 31 * DAY).toISOString(), ago30), true, 'ISO trait value');
  const after30 = { op: 'after', relative: { ago: 30, unit: 'days' } };
  t.equal(at(NOW - 30 * DAY + 1, after30), true);
  t.equal(at(NOW - 30 * DAY, after30), false);
  const soon = { op: 'before', relative: { from_now: 7, unit: 'days' } };
  t.equal(at(NOW + 7 * DAY - 1, soon), true, 'renews within a week');
  t.equal(at(NOW + 7 * DAY, soon), false);
  const later = { op: 'after', relative: { from_now: 2, unit: 'hours' } };
  t.equal(at(NOW + 2 * HOUR + 1, later), true);
  t.equal(at(NOW + 2 * HOUR, later), false);
  const past = { op: 'before', relative: { ago: 0, unit: 'minutes' } };
  t.equal(at(NOW - 1, past), true, '0 minutes ago is now');
  t.equal(at(NOW, past), false);
  t.equal(at(NOW, { op: 'after', relative: { ago: 1, unit: 'weeks' } }), true);
  t.equal(at(NOW - 7 * DAY, { op: 'after', relative: { ago: 1, unit: 'weeks' } }), false);
  t.equal(at(NOW - MIN, { op: 'before', relative: { ago: 1, unit: 'minutes' } }), false);
  t.equal(at(NOW - MIN - 1, { op: 'before', relative: { ago: 1, unit: 'minutes' } }), true);
  t.equal(holds({ trait: 'd', ...ago30 }, [], { traits: { d: 'soon' } }), false, 'not a date');
  t.equal(holds({ trait: 'd', ...ago30 }, []), false, 'missing');
});

const buy = (at: number, properties: JsonObject = {}): TestEvent => ({ event: 'Purchase', at, properties });

void t.test('event count over all time reads the counters, like the legacy form', async (t) => {
  const f = facts({ eventCounts: { Purchase: 2, $page: 5 } });
  const count = (rule: unknown) => evaluate(parseRule(j(rule)), f);
  t.equal(count({ event: 'Purchase', op: 'gte', count: 1 }), true);
  t.equal(count({ event: 'Purchase', op: 'gte', count: 2 }), true);
  t.equal(count({ event: 'Purchase', op: 'gte', count: 3 }), false);
  t.equal(count({ event: '$page', op: 'gte', count: 5 }), true);
  t.equal(count({ event: 'Signup', op: 'gte', count: 1 }), false, 'never done');
  t.equal(count({ event: 'constructor', op: 'gte', count: 1 }), false, 'inherited names count nothing');
  t.equal(count({ event: 'Purchase', op: 'gt', value: 1 }), true);
  t.equal(count({ event: 'Purchase', op: 'eq', value: 2 }), true);
  t.equal(count({ event: 'Purchase', op: 'lte', value: 1 }), false);
  t.equal(count({ event: 'Purchase', op: 'lt', value: 3 }), true);
  t.equal(count({ event: 'Purchase', op: 'between', value: [2, 4] }), true);
  t.equal(count({ event: 'Purchase', op: 'between', value: [3, 4] }), false);
  t.equal(count({ event: 'Signup', op: 'lt', value: 1 }), true, 'zero is less than one');
  t.equal(count({ not_did: 'Signup' }), true);
  t.equal(count({ not_did: 'Purchase' }), false);
});

void t.test('event aggregates: count, sum, min, max, filtered, in a relative window', async (t) => {
  const events = [
    buy(NOW - 10 * DAY, { revenue: 500, category: 'shoes' }),
    buy(NOW - 6 * DAY, { revenue: 40, category: 'shoes' }),
    buy(NOW - 2 * DAY, { revenue: 70, category: 'hats' }),
    buy(NOW - HOUR, { revenue: 'n/a', category: 'shoes' }),
    { event: 'Refund', at: NOW - HOUR, properties: { revenue: 999 } },
  ];
  const week = { last: 7, unit: 'days' };
  const agg = (fn: string, op: string, value: unknown, extra: Record<string, unknown> = {}) =>
    holds({ event: 'Purchase', aggregate: { fn, property: 'revenue' }, window: week, op, value, ...extra }, events);
  t.equal(holds({ event: 'Purchase', window: week, op: 'eq', value: 3 }, events), true, 'count in 7 days');
  t.equal(holds({ event: 'Purchase', op: 'eq', value: 4 }, events), true, 'count of all time');
  t.equal(holds({ event: 'Purchase', where: { property: 'category', op: 'eq', value: 'shoes' }, window: week, op: 'gte', value: 2 }, events), true);
  t.equal(holds({ event: 'Purchase', where: { property: 'category', op: 'eq', value: 'shoes' }, window: week, op: 'gte', value: 3 }, events), false);
  t.equal(holds({ event: 'Purchase', where: { property: 'category', op: 'eq', value: 'shoes' }, op: 'eq', value: 3 }, events), true, 'filtered, all time (totals)');
  t.equal(agg('sum', 'eq', 110), true, 'sum skips values that are not numbers');
  t.equal(agg('sum', 'gt', 110), false);
  t.equal(agg('min', 'eq', 40), true);
  t.equal(agg('max', 'eq', 70), true);
  t.equal(agg('max', 'between', [70, 70]), true);
  t.equal(agg('sum', 'eq', 40, { where: { property: 'category', op: 'eq', value: 'shoes' } }), true, 'filtered sum');
  t.equal(holds({ event: 'Purchase', aggregate: { fn: 'sum', property: 'revenue' }, op: 'eq', value: 610 }, events), true, 'sum of all time');
  t.equal(holds({ event: 'Purchase', aggregate: { fn: 'max', property: 'revenue' }, op: 'eq', value: 500 }, events), true, 'max of all time');
  t.equal(holds({ event: 'Purchase', aggregate: { fn: 'min', property: 'revenue' }, op: 'eq', value: 40 }, events), true, 'min of all time');
  t.equal(holds({ event: 'Purchase', aggregate: { fn: 'sum', property: 'revenue' }, window: { last: 1, unit: 'minutes' }, op: 'eq', value: 0 }, events), true, 'sum of nothing is 0');
  for (const op of ['gte', 'lte', 'lt']) {
    t.equal(holds({ event: 'Purchase', aggregate: { fn: 'min', property: 'revenue' }, window: { last: 1, unit: 'minutes' }, op, value: 0 }, events), false, `min of nothing is no value (${op})`);
    t.equal(holds({ event: 'Nothing', aggregate: { fn: 'max', property: 'revenue' }, op, value: 0 }, events), false, `max of nothing, all time (${op})`);
  }
  t.equal(holds({ event: 'Purchase', window: week, op: 'gte', value: 1 }, events, { features: new Map() }), false, 'facts without the feature read as no occurrence');
});

void t.test('relative windows: an occurrence exactly N old is outside', async (t) => {
  const rule = { event: 'Purchase', window: { last: 7, unit: 'days' }, op: 'gte', value: 1 };
  t.equal(holds(rule, [buy(NOW - 7 * DAY)]), false, 'exactly 7 days old: out');
  t.equal(holds(rule, [buy(NOW - 7 * DAY + 1)]), true, '1 ms younger: in');
  t.equal(holds(rule, [buy(NOW)]), true, 'now: in');
  t.equal(holds(rule, [buy(NOW + HOUR)]), true, 'dated in the future (clock skew): in');
  for (const [unit, ms] of [['minutes', MIN], ['hours', HOUR], ['days', DAY], ['weeks', 7 * DAY]] as const) {
    const r = { event: 'Purchase', window: { last: 3, unit }, op: 'gte', value: 1 };
    t.equal(holds(r, [buy(NOW - 3 * ms)]), false, `3 ${unit}: edge out`);
    t.equal(holds(r, [buy(NOW - 3 * ms + 1)]), true, `3 ${unit}: edge in`);
  }
});

void t.test('absolute ranges: from inclusive, to exclusive', async (t) => {
  const rule = { event: 'Purchase', window: { from: '2024-04-01', to: '2024-04-02T00:00:00+00:00' }, op: 'gte', value: 1 };
  t.equal(holds(rule, [buy(Date.UTC(2024, 3, 1))]), true, 'at from');
  t.equal(holds(rule, [buy(Date.UTC(2024, 3, 1) - 1)]), false, 'before from');
  t.equal(holds(rule, [buy(Date.UTC(2024, 3, 2) - 1)]), true, 'just before to');
  t.equal(holds(rule, [buy(Date.UTC(2024, 3, 2))]), false, 'at to');
  t.equal(holds({ not_did: 'Purchase', window: { from: '2024-04-01', to: '2024-04-02' } }, [buy(Date.UTC(2024, 3, 2))]), true);
});

void t.test('not_did: nothing matching in the window', async (t) => {
  const events = [buy(NOW - 40 * DAY, { category: 'shoes' }), buy(NOW - DAY, { category: 'hats' })];
  t.equal(holds({ not_did: 'Purchase', window: { last: 30, unit: 'days' } }, events), false);
  t.equal(holds({ not_did: 'Purchase', window: { last: 1, unit: 'days' } }, events), true, 'exactly a day ago is outside a day');
  t.equal(holds({ not_did: 'Purchase', where: { property: 'category', op: 'eq', value: 'shoes' }, window: { last: 30, unit: 'days' } }, events), true);
  t.equal(holds({ not_did: 'Purchase', where: { property: 'category', op: 'eq', value: 'shoes' } }, events), false, 'all time, filtered');
  t.equal(holds({ not_did: 'Purchase' }, events), false);
  t.equal(holds({ not_did: 'Signup' }, events), true);
});

void t.test('recency: last seen within N, any event or one event', async (t) => {
  const within3 = { recency: { within: { last: 3, unit: 'days' } } };
  t.equal(holds(within3, [], { lastSeen: NOW - 3 * DAY + 1 }), true);
  t.equal(holds(within3, [], { lastSeen: NOW - 3 * DAY }), false, 'exactly 3 days: lapsed');
  t.equal(holds(within3, []), false, 'never seen');
  t.equal(holds(within3, [{ event: 'Visit', at: NOW - DAY }]), true, 'lastSeen from events');
  const bought = { recency: { within: { last: 3, unit: 'days' }, event: 'Purchase' } };
  t.equal(holds(bought, [buy(NOW - 5 * DAY), buy(NOW - 2 * DAY)]), true);
  t.equal(holds(bought, [buy(NOW - 5 * DAY), { event: 'Visit', at: NOW }]), false, 'other events do not count');
  t.equal(holds(bought, [buy(NOW - 3 * DAY)]), false);
  const shoes = { recency: { within: { last: 3, unit: 'days' }, event: 'Purchase', where: { property: 'category', op: 'eq', value: 'shoes' } } };
  t.equal(holds(shoes, [buy(NOW - DAY, { category: 'hats' })]), false);
  t.equal(holds(shoes, [buy(NOW - DAY, { category: 'shoes' })]), true);
  const parsed = validateRule(bought);
  const f = factsFor([parsed], [], { now: NOW });
  const [id] = [...f.features.keys()];
  const totalsOnly = new Map([[id as string, { occurrences: [], total: { count: 9, sum: 0, min: undefined, max: undefined, first: 0, last: NOW - DAY } }]]);
  t.equal(evaluate(parsed, { ...f, features: totalsOnly }), true, 'the all-time last time counts when occurrences were trimmed');
});

void t.test('sequence: steps in order, the last less than `within` after the first', async (t) => {
  const seq = { sequence: ['Add To Cart', 'Purchase'], within: { last: 1, unit: 'hours' } };
  const cart = (at: number, properties: JsonObject = {}): TestEvent => ({ event: 'Add To Cart', at, properties });
  t.equal(holds(seq, [cart(NOW - 2 * HOUR), buy(NOW - 2 * HOUR + 30 * MIN)]), true);
  t.equal(holds(seq, [cart(NOW - 2 * HOUR), buy(NOW - HOUR)]), false, 'exactly 1 hour later is not within 1 hour');
  t.equal(holds(seq, [cart(NOW - 2 * HOUR), buy(NOW - HOUR - 1)]), true);
  t.equal(holds(seq, [buy(NOW - 2 * HOUR), cart(NOW - HOUR)]), false, 'wrong order');
  t.equal(holds(seq, [cart(NOW - HOUR), buy(NOW - HOUR)]), true, 'same instant counts as in order');
  t.equal(holds(seq, [cart(NOW - 5 * HOUR), cart(NOW - 3 * HOUR), buy(NOW - 2 * HOUR - MIN)]), true, 'a later start fits');
  t.equal(holds(seq, [cart(NOW - 5 * HOUR), buy(NOW - 3 * HOUR), cart(NOW - 2 * HOUR), buy(NOW - 90 * MIN)]), true, 'the second pair fits');
  t.equal(holds(seq, [cart(NOW - 5 * HOUR)]), false, 'one step only');
  t.equal(holds({ sequence: ['Add To Cart', 'Purchase'] }, [cart(NOW - 50 * DAY), buy(NOW)]), true, 'no within: any gap');
  const twice = { sequence: ['Purchase', 'Purchase'], within: { last: 1, unit: 'hours' } };
  t.equal(holds(twice, [buy(NOW - MIN)]), false, 'the same occurrence does not count twice');
  t.equal(holds(twice, [buy(NOW - MIN), buy(NOW - MIN)]), true, 'two at the same instant');
  t.equal(holds(twice, [buy(NOW - 2 * HOUR), buy(NOW)]), false);
  const three = { sequence: ['A', 'B', 'A'], within: { last: 10, unit: 'minutes' } };
  const e = (event: string, at: number): TestEvent => ({ event, at });
  t.equal(holds(three, [e('A', NOW - 9 * MIN), e('B', NOW - 5 * MIN), e('A', NOW)]), true);
  t.equal(holds(three, [e('A', NOW - 10 * MIN), e('B', NOW - 5 * MIN), e('A', NOW)]), false, 'first to last is 10 minutes');
  t.equal(holds(three, [e('A', NOW - 5 * MIN), e('B', NOW - 4 * MIN)]), false, 'the third step needs another A');
  const windowed = { sequence: ['Add To Cart', 'Purchase'], within: { last: 1, unit: 'hours' }, window: { last: 1, unit: 'days' } };
  t.equal(holds(windowed, [cart(NOW - DAY), buy(NOW - DAY + MIN)]), false, 'the first step left the window');
  t.equal(holds(windowed, [cart(NOW - DAY + 1), buy(NOW - DAY + MIN)]), true);
  const ranged = { sequence: ['Add To Cart', 'Purchase'], window: { from: '2024-04-01', to: '2024-04-02' } };
  t.equal(holds(ranged, [cart(Date.UTC(2024, 3, 1, 10)), buy(Date.UTC(2024, 3, 1, 11))]), true);
  t.equal(holds(ranged, [cart(Date.UTC(2024, 3, 1, 10)), buy(Date.UTC(2024, 3, 2))]), false);
  const filtered = { sequence: ['Add To Cart', { event: 'Purchase', where: { property: 'category', op: 'eq', value: 'shoes' } }], within: { last: 1, unit: 'hours' } };
  t.equal(holds(filtered, [cart(NOW - 30 * MIN), buy(NOW - 20 * MIN, { category: 'hats' })]), false);
  t.equal(holds(filtered, [cart(NOW - 30 * MIN), buy(NOW - 20 * MIN, { category: 'hats' }), buy(NOW - 10 * MIN, { category: 'shoes' })]), true);
});

void t.test('segment membership and combinators', async (t) => {
  t.equal(holds({ segment: 'pro-buyers' }, [], { segments: new Set(['pro-buyers']) }), true);
  t.equal(holds({ segment: 'pro-buyers' }, [], { segments: new Set(['other']) }), false);
  const yes = { trait: 'plan', op: 'eq', value: 'pro' };
  const no = { trait: 'plan', op: 'eq', value: 'free' };
  t.equal(check({ all: [yes, yes] }), true);
  t.equal(check({ all: [yes, no] }), false);
  t.equal(check({ any: [no, yes] }), true);
  t.equal(check({ any: [no, no] }), false);
  t.equal(check({ not: yes }), false);
  t.equal(check({ not: no }), true);
  t.equal(check({ not: { not: yes } }), true);
  t.equal(check({ all: [yes, { any: [no, { trait: 'age', op: 'gte', value: 18 }] }, { not: { trait: 'gone', op: 'exists' } }] }), true);
  t.equal(evaluate({ all: [] }, facts()), true, 'an empty all (only by construction) is vacuously true');
  t.equal(evaluate({ any: [] }, facts()), false);
});

void t.test('evaluation never throws on generated rules and odd facts', async (t) => {
  const g = new Generator(7);
  const oddTraits: JsonObject = { plan: ['pro'], age: '30', d: 'not a date', signup_at: 1e300, count: { a: 1 }, 'first name': null };
  let evaluated = 0;
  for (let i = 0; i < 300; i++) {
    const rule = validateRule(g.rule());
    const f = factsFor([rule], [{ event: 'Purchase', at: NOW - DAY, properties: { x1: 'a', revenue: 5 } }, { event: 'count', at: NOW }], { now: NOW, traits: oddTraits });
    t.doesNotThrow(() => evaluate(rule, f));
    evaluated++;
  }
  t.equal(evaluated, 300);
});

void t.test('factsFrom fills what a counters-only store lacks', async (t) => {
  const f = factsFrom({ traits: { a: 1 }, eventCounts: { E: 1 } }, NOW);
  t.equal(f.now, NOW);
  t.equal(f.lastSeen, undefined);
  t.equal(f.features.size, 0);
  t.equal(f.segments.size, 0);
  t.strictSame(f.traits, { a: 1 });
  const given = factsFrom({ now: 5, traits: {}, eventCounts: {}, lastSeen: 3, segments: new Set(['s']) }, NOW);
  t.equal(given.now, 5, 'a given now wins');
  t.equal(given.lastSeen, 3);
  t.ok(given.segments.has('s'));
});

void t.test('nextChange: occurrences leaving windows', async (t) => {
  const rule = validateRule({ event: 'Purchase', window: { last: 7, unit: 'days' }, op: 'gte', value: 2 });
  const events = [buy(NOW - 6 * DAY), buy(NOW - 3 * DAY), buy(NOW - DAY)];
  const f = factsFor([rule], events, { now: NOW });
  t.equal(evaluate(rule, f), true);
  const next = nextChange(rule, f);
  t.equal(next, NOW + 4 * DAY, 'the second-oldest leaves at its time + 7 days');
  t.equal(evaluate(rule, { ...f, now: (next as number) - 1 }), true, 'still true 1 ms before');
  t.equal(evaluate(rule, { ...f, now: next as number }), false, 'false at that time');
  t.equal(nextChange(rule, { ...f, now: next as number }), undefined, 'false for good: nothing can bring it back without an event');
  const once = validateRule({ event: 'Purchase', window: { last: 7, unit: 'days' }, op: 'gte', value: 1 });
  t.equal(nextChange(once, factsFor([once], events, { now: NOW })), NOW + 6 * DAY, 'the newest leaving is the change');
  const never = validateRule({ not_did: 'Purchase', window: { last: 7, unit: 'days' } });
  t.equal(nextChange(never, factsFor([never], events, { now: NOW })), NOW + 6 * DAY, 'not_did becomes true when the last one leaves');
  const sum = validateRule({ event: 'Purchase', aggregate: { fn: 'sum', property: 'revenue' }, window: { last: 1, unit: 'hours' }, op: 'lt', value: 100 });
  const spend = [buy(NOW - 50 * MIN, { revenue: 80 }), buy(NOW - 10 * MIN, { revenue: 30 })];
  t.equal(nextChange(sum, factsFor([sum], spend, { now: NOW })), NOW + 10 * MIN, 'the sum drops under 100 when the 80 leaves');
  const allTime = validateRule({ event: 'Purchase', op: 'gte', value: 1 });
  t.equal(nextChange(allTime, factsFor([allTime], events, { now: NOW })), undefined, 'all time never lapses');
  const ranged = validateRule({ event: 'Purchase', window: { from: '2024-04-01', to: '2024-06-01' }, op: 'gte', value: 1 });
  t.equal(nextChange(ranged, factsFor([ranged], events, { now: NOW })), undefined, 'an absolute range does not move');
});

void t.test('nextChange: relative dates, recency, sequences, segments', async (t) => {
  const before = validateRule({ trait: 'signup_at', op: 'before', relative: { ago: 30, unit: 'days' } });
  const signup = NOW - 10 * DAY;
  const f = facts({ traits: { signup_at: new Date(signup).toISOString() } });
  t.equal(nextChange(before, f), signup + 30 * DAY + 1, 'before 30 days ago holds 1 ms after the 30 days');
  t.equal(evaluate(before, { ...f, now: signup + 30 * DAY }), false);
  t.equal(evaluate(before, { ...f, now: signup + 30 * DAY + 1 }), true);
  t.equal(nextChange(before, { ...f, now: signup + 31 * DAY }), undefined, 'once true it stays true');
  const after = validateRule({ trait: 'signup_at', op: 'after', relative: { ago: 30, unit: 'days' } });
  t.equal(nextChange(after, f), signup + 30 * DAY);
  const renews = validateRule({ trait: 'renews_at', op: 'before', relative: { from_now: 7, unit: 'days' } });
  const renewal = NOW + 20 * DAY;
  t.equal(nextChange(renews, facts({ traits: { renews_at: renewal } })), renewal - 7 * DAY + 1, 'enters a week before renewal');
  const far = validateRule({ trait: 'renews_at', op: 'after', relative: { from_now: 7, unit: 'days' } });
  t.equal(nextChange(far, facts({ traits: { renews_at: renewal } })), renewal - 7 * DAY);
  t.equal(nextChange(renews, facts({ traits: { renews_at: 'soon' } })), undefined, 'no date, no change');
  const frac = validateRule({ trait: 'd', op: 'before', relative: { ago: 1, unit: 'minutes' } });
  t.equal(nextChange(frac, facts({ traits: { d: NOW + 0.5 } })), NOW + MIN + 1, 'fractional ms: the first whole ms past the bound');

  const seen = validateRule({ recency: { within: { last: 3, unit: 'days' } } });
  t.equal(nextChange(seen, facts({ lastSeen: NOW - DAY })), NOW + 2 * DAY, 'recency lapses');
  t.equal(nextChange(seen, facts({ lastSeen: NOW - 4 * DAY })), undefined, 'already lapsed');
  t.equal(nextChange(seen, facts()), undefined, 'never seen');
  const bought = validateRule({ recency: { within: { last: 1, unit: 'hours' }, event: 'Purchase' } });
  t.equal(nextChange(bought, factsFor([bought], [buy(NOW - 40 * MIN), buy(NOW - 10 * MIN)], { now: NOW })), NOW + 50 * MIN);

  const seq = validateRule({ sequence: ['A', 'B'], within: { last: 1, unit: 'hours' }, window: { last: 1, unit: 'days' } });
  const chain = [{ event: 'A', at: NOW - 20 * HOUR }, { event: 'B', at: NOW - 19 * HOUR - 1 }, { event: 'A', at: NOW - 2 * HOUR }, { event: 'B', at: NOW - 61 * MIN }];
  t.equal(nextChange(seq, factsFor([seq], chain, { now: NOW })), NOW + 22 * HOUR, 'true until the A of the last matching pair leaves the day');
  const gapped = [...chain.slice(0, 3), { event: 'B', at: NOW - HOUR }];
  t.equal(nextChange(seq, factsFor([seq], gapped, { now: NOW })), NOW + 4 * HOUR, 'a pair exactly 1 hour apart does not match: the first pair leaving ends it');

  const member = validateRule({ all: [{ segment: 'x' }, { recency: { within: { last: 1, unit: 'hours' } } }] });
  t.equal(nextChange(member, facts({ lastSeen: NOW - 30 * MIN })), undefined, 'masked by a false membership: no change');
  t.equal(nextChange(member, facts({ lastSeen: NOW - 30 * MIN, segments: new Set(['x']) })), NOW + 30 * MIN);
});

void t.test('nextChange agrees with stepping the clock minute by minute', async (t) => {
  const g = new Generator(42);
  const names = ['Purchase', 'A', 'B'];
  let checked = 0;
  let changing = 0;
  for (let i = 0; i < 150; i++) {
    const leaf = () => {
      const event = g.pick(names);
      const window = { last: g.int(1, 90), unit: 'minutes' };
      switch (g.int(0, 5)) {
        case 0: return { event, window, op: g.pick(['gte', 'lte', 'eq', 'gt', 'lt']), value: g.int(1, 3) };
        case 1: return { event, aggregate: { fn: g.pick(['sum', 'min', 'max']), property: 'v' }, window, op: g.pick(['gte', 'lt']), value: g.int(0, 10) };
        case 2: return { not_did: event, window };
        case 3: return { recency: { within: window, ...(g.chance(0.5) ? { event } : {}) } };
        case 4: return { sequence: [event, g.pick(names)], within: { last: g.int(1, 30), unit: 'minutes' }, window };
        default: return { trait: 'd', op: g.pick(['before', 'after']), relative: g.chance(0.5) ? { ago: g.int(0, 60), unit: 'minutes' } : { from_now: g.int(1, 60), unit: 'minutes' } };
      }
    };
    const raw = g.chance(0.5) ? leaf() : { [g.pick(['all', 'any'])]: [leaf(), g.chance(0.5) ? leaf() : { not: leaf() }] };
    const rule = validateRule(raw);
    const events = Array.from({ length: g.int(0, 6) }, () => ({ event: g.pick(names), at: NOW - g.int(0, 120) * MIN, properties: { v: g.int(0, 5) } }));
    const f = factsFor([rule], events, { now: NOW, traits: { d: NOW + g.int(-120, 120) * MIN } });
    const base = evaluate(rule, f);
    let firstMinute: number | undefined;
    for (let m = 1; m <= 300 && firstMinute === undefined; m++) {
      if (evaluate(rule, { ...f, now: NOW + m * MIN }) !== base) firstMinute = NOW + m * MIN;
    }
    const next = nextChange(rule, f);
    if (firstMinute === undefined) {
      t.equal(next, undefined, `${j(raw)} never changes`);
    } else {
      changing++;
      t.ok(next !== undefined && next > NOW && next <= firstMinute && next > firstMinute - MIN, `${j(raw)}: ${next} in the minute before ${firstMinute}`);
      t.not(evaluate(rule, { ...f, now: next as number }), base, 'changed at nextChange');
      t.equal(evaluate(rule, { ...f, now: (next as number) - 1 }), base, 'not 1 ms before');
    }
    checked++;
  }
  t.equal(checked, 150);
  t.ok(changing > 30, `enough cases change (${changing})`);
});

void t.test('segment references and validateAll', async (t) => {
  const r = (rule: unknown) => validateRule(rule);
  t.strictSame(segmentReferences(r({ all: [{ segment: 'a' }, { not: { any: [{ trait: 'x', op: 'exists' }, { segment: 'b' }] } }] })),
    [{ segment: 'a', field: 'rule.all[0].segment' }, { segment: 'b', field: 'rule.all[1].not.any[1].segment' }]);
  t.strictSame(validateAll([{ id: 'a', rule: r({ segment: 'b' }) }, { id: 'b', rule: r({ trait: 'x', op: 'exists' }) }]), [], 'a DAG is fine');
  t.strictSame(validateAll([{ id: 'a', rule: r({ all: [{ trait: 'x', op: 'exists' }, { segment: 'ghost' }] }) }]),
    [{ segment: 'a', field: 'rule.all[1].segment', message: 'rule.all[1].segment: segment "ghost" does not exist' }]);
  t.strictSame(validateAll([{ id: 'a', rule: r({ not: { segment: 'a' } }) }]),
    [{ segment: 'a', field: 'rule.not.segment', message: 'rule.not.segment: segment cycle: a -> a' }], 'self-reference');
  t.strictSame(validateAll([
    { id: 'a', rule: r({ any: [{ segment: 'b' }, { segment: 'd' }] }) },
    { id: 'b', rule: r({ segment: 'c' }) },
    { id: 'c', rule: r({ all: [{ trait: 'x', op: 'exists' }, { segment: 'a' }] }) },
    { id: 'd', rule: r({ trait: 'y', op: 'exists' }) },
    { id: 'e', rule: r({ segment: 'a' }) },
  ]), [
    { segment: 'a', field: 'rule.any[0].segment', message: 'rule.any[0].segment: segment cycle: a -> b -> c -> a' },
    { segment: 'b', field: 'rule.segment', message: 'rule.segment: segment cycle: b -> c -> a -> b' },
    { segment: 'c', field: 'rule.all[1].segment', message: 'rule.all[1].segment: segment cycle: c -> a -> b -> c' },
  ], 'every segment on the cycle, at the reference that closes it; d and e are fine');
  const chain = (n: number) => Array.from({ length: n + 1 }, (_, i) => ({ id: `s${i}`, rule: r(i < n ? { segment: `s${i + 1}` } : { trait: 'x', op: 'exists' }) }));
  t.strictSame(validateAll(chain(8)), [], '8 levels of references');
  t.strictSame(validateAll(chain(9)), [{
    segment: 's0', field: 'rule.segment',
    message: 'rule.segment: segment references nested 9 deep (at most 8): s0 -> s1 -> s2 -> s3 -> s4 -> s5 -> s6 -> s7 -> s8 -> s9',
  }]);
  t.strictSame(validateAll([{ id: 'a', rule: r({ segment: 'b' }) }, { id: 'b', rule: r({ segment: 'a' }) }, { id: 'b', rule: r({ trait: 'x', op: 'exists' }) }]), [],
    'a repeated id: the last definition counts');
});

void t.test('jsonEqual', async (t) => {
  t.ok(jsonEqual({ a: 1, b: { c: [1, { d: 2, e: [3, { f: null }] }] } }, { b: { c: [1, { e: [3, { f: null }], d: 2 }] }, a: 1 }), 'nested, key order ignored');
  t.ok(jsonEqual([[1, 2], { x: 'y' }], [[1, 2], { x: 'y' }]));
  t.ok(jsonEqual({}, {}));
  t.ok(jsonEqual([], []));
  t.ok(jsonEqual(null, null));
  t.ok(jsonEqual('a', 'a'));
  t.notOk(jsonEqual([1, 2], [2, 1]), 'arrays are ordered');
  t.notOk(jsonEqual([1], [1, 1]));
  t.notOk(jsonEqual([null], []), 'a missing element is not null');
  t.notOk(jsonEqual({ a: 1 }, { a: 1, b: 2 }));
  t.notOk(jsonEqual({ a: 1, b: 2 }, { a: 1 }));
  t.notOk(jsonEqual({ a: null }, { b: null }), 'same size, different keys');
  t.notOk(jsonEqual({ a: { b: 1 } }, { a: { b: '1' } }));
  t.notOk(jsonEqual([], {}));
  t.notOk(jsonEqual({}, []));
  t.notOk(jsonEqual({ 0: 'a' }, ['a']), 'an object is not an array');
  t.notOk(jsonEqual(null, {}));
  t.notOk(jsonEqual(0, false));
  t.notOk(jsonEqual(1, '1'));
  t.notOk(jsonEqual('', null));
});
