import { createHash } from 'node:crypto';
import t from 'tap';
import type { JsonObject } from '../../src/json.ts';
import { features, featureOccurrence, type EventFeature } from '../../src/segments/features.ts';
import { canonicalJson, conditionFeatureIds, featureId, matchesFilter, parseRule, validateRule, type Condition, type PropertyFilter } from '../../src/segments/rule.ts';
import { parseRuleText } from '../../src/segments/rule-text.ts';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const sha = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

void t.test('feature ids: short sha256 of canonical {event, where, property}', async (t) => {
  t.equal(featureId('Purchase', undefined, undefined), sha('{"event":"Purchase"}'));
  t.equal(featureId('Purchase', undefined, 'revenue'), sha('{"event":"Purchase","property":"revenue"}'));
  const where: PropertyFilter = { property: 'category', op: 'eq', value: 'shoes' };
  t.equal(featureId('Purchase', where, 'revenue'), sha('{"event":"Purchase","property":"revenue","where":{"op":"eq","property":"category","value":"shoes"}}'));
  t.match(featureId('x', undefined, undefined), /^[0-9a-f]{16}$/);
  const a = parseRule('{"event":"P","where":{"all":[{"property":"c","op":"in","value":[{"b":1,"a":2}]}]},"window":{"last":7,"unit":"days"},"op":"gte","value":1}');
  const b = parseRule('{"op":"gte","value":3,"where":{"all":[{"value":[{"a":2,"b":1}],"op":"in","property":"c"}]},"event":"P"}');
  t.equal(features(a)[0]?.id, features(b)[0]?.id, 'key order, window and comparison do not change the id');
  const ids = new Set([
    featureId('P', undefined, undefined),
    featureId('p', undefined, undefined),
    featureId('P', undefined, 'revenue'),
    featureId('P', where, undefined),
    featureId('P', { property: 'category', op: 'eq', value: 'hats' }, undefined),
    featureId('P', { all: [where] }, undefined),
  ]);
  t.equal(ids.size, 6, 'any difference in event, filter or property is another feature');
  t.equal(canonicalJson({ b: [2, { d: 1, c: undefined }], a: 'x' }), '{"a":"x","b":[2,{"d":1}]}', 'sorted keys, undefined dropped');
});

void t.test('conditionFeatureIds agree with features() and are memoized per node', async (t) => {
  const rule = parseRuleText('count(P where x = 1) in last 1 day > 1 and sum(P.revenue) > 3 and sequence(A, B where y exists) and last(C) within 1 hour and never(D) in last 2 days');
  const listed = features(rule).map((f) => f.id);
  const [c1, c2, c3, c4, c5] = (rule as { all: Condition[] }).all as [Condition, Condition, Condition, Condition, Condition];
  t.strictSame([...conditionFeatureIds(c1), ...conditionFeatureIds(c2), ...conditionFeatureIds(c3), ...conditionFeatureIds(c4), ...conditionFeatureIds(c5)], listed);
  t.equal(conditionFeatureIds(c1), conditionFeatureIds(c1), 'the same array: computed once');
});

/** The features of a text rule, as plain objects with horizons in days (or 'all'). */
function list(text: string): { event: string; where: unknown; property: unknown; horizon: number | 'all'; occurrences: number | 'all' }[] {
  const inDays = (h: number | 'all') => (h === 'all' ? h : h / DAY);
  return features(parseRuleText(text)).map((f: EventFeature) => ({ event: f.event, where: f.where, property: f.property, horizon: inDays(f.horizonMs), occurrences: inDays(f.occurrenceHorizonMs) }));
}

void t.test('features and horizons per kind of condition', async (t) => {
  t.strictSame(list('plan = "pro" and count(Purchase) >= 2 and segment(x) and last seen within 3 days'), [], 'traits, all-time unfiltered counts, segments and recency of any event need no feature');
  t.strictSame(list('never(Purchase)'), [], 'nor does all-time not_did');
  t.strictSame(list('count(Purchase) in last 7 days >= 2'), [{ event: 'Purchase', where: undefined, property: undefined, horizon: 7, occurrences: 7 }]);
  t.strictSame(list('count(Purchase where c = 1) >= 2'), [{ event: 'Purchase', where: { property: 'c', op: 'eq', value: 1 }, property: undefined, horizon: 'all', occurrences: 0 }], 'all time: totals only');
  t.strictSame(list('sum(Purchase.revenue) >= 100'), [{ event: 'Purchase', where: undefined, property: 'revenue', horizon: 'all', occurrences: 0 }]);
  t.strictSame(list('max(Purchase.revenue) in last 2 weeks >= 100'), [{ event: 'Purchase', where: undefined, property: 'revenue', horizon: 14, occurrences: 14 }]);
  t.strictSame(list('count(Purchase) from "2024-01-01" to "2024-02-01" >= 1'), [{ event: 'Purchase', where: undefined, property: undefined, horizon: 'all', occurrences: 'all' }], 'an absolute range needs every occurrence');
  t.strictSame(list('never(Purchase) in last 30 days'), [{ event: 'Purchase', where: undefined, property: undefined, horizon: 30, occurrences: 30 }]);
  t.strictSame(list('last(Purchase) within 3 days'), [{ event: 'Purchase', where: undefined, property: undefined, horizon: 3, occurrences: 3 }]);
  t.strictSame(list('sequence(A, B) within 1 hour in last 2 days'), [
    { event: 'A', where: undefined, property: undefined, horizon: 2, occurrences: 2 },
    { event: 'B', where: undefined, property: undefined, horizon: 2, occurrences: 2 },
  ]);
  t.strictSame(list('sequence(A, A) within 1 hour'), [{ event: 'A', where: undefined, property: undefined, horizon: 'all', occurrences: 'all' }], 'without a window a sequence reads every occurrence; one feature for both steps');
});

void t.test('one feature per definition, with the widest horizons', async (t) => {
  t.strictSame(list('count(P) in last 7 days > 1 or count(P) in last 30 days < 9 or never(P) in last 1 day or last(P) within 2 days'),
    [{ event: 'P', where: undefined, property: undefined, horizon: 30, occurrences: 30 }]);
  t.strictSame(list('count(P) in last 7 days > 1 or count(P where x = 1) >= 1'), [
    { event: 'P', where: undefined, property: undefined, horizon: 7, occurrences: 7 },
    { event: 'P', where: { property: 'x', op: 'eq', value: 1 }, property: undefined, horizon: 'all', occurrences: 0 },
  ]);
  t.strictSame(list('sum(P.r) >= 1 and sum(P.r) in last 1 day >= 1'), [{ event: 'P', where: undefined, property: 'r', horizon: 'all', occurrences: 1 }], 'totals for all time, occurrences for a day');
  t.strictSame(list('count(P) in last 60 minutes > 0 and count(P) from "2024-01-01" to "2024-01-02" > 0'), [{ event: 'P', where: undefined, property: undefined, horizon: 'all', occurrences: 'all' }]);
  const merged = features(parseRuleText('count(P) in last 1 day > 1'), parseRuleText('sum(Q.v) > 1'), parseRuleText('count(P) in last 3 days > 1'));
  t.strictSame(merged.map((f) => [f.event, f.horizonMs]), [['P', 3 * DAY], ['Q', 'all']], 'several rules: merged, in order of first use');
  t.equal(features(parseRuleText('count(P) in last 90 minutes > 1'))[0]?.horizonMs, 90 * MIN);
});

void t.test('featureOccurrence: the store applies it to each incoming event', async (t) => {
  const [shoes] = features(parseRuleText('sum(Purchase.revenue where category = "shoes") > 1'));
  const at = 1_714_564_800_000;
  t.strictSame(featureOccurrence(shoes as EventFeature, 'Purchase', { category: 'shoes', revenue: 12.5 }, at), { at, value: 12.5 });
  t.strictSame(featureOccurrence(shoes as EventFeature, 'Purchase', { category: 'shoes', revenue: '12.5' }, at), { at, value: undefined }, 'a numeric string is not a number');
  t.strictSame(featureOccurrence(shoes as EventFeature, 'Purchase', { category: 'shoes' }, at), { at, value: undefined }, 'missing property: counted, no value');
  t.equal(featureOccurrence(shoes as EventFeature, 'Purchase', { category: 'hats', revenue: 1 }, at), undefined, 'filtered out');
  t.equal(featureOccurrence(shoes as EventFeature, 'Refund', { category: 'shoes', revenue: 1 }, at), undefined, 'another event');
  const [count] = features(parseRuleText('count(Purchase) in last 1 day > 1'));
  t.strictSame(featureOccurrence(count as EventFeature, 'Purchase', { revenue: 5 }, at), { at, value: undefined }, 'a count reads no property');
  const [inherited] = features(parseRuleText('sum(P.constructor) > 1'));
  t.strictSame(featureOccurrence(inherited as EventFeature, 'P', {}, at), { at, value: undefined }, 'inherited names are not properties');
});

void t.test('matchesFilter: every operator on event properties', async (t) => {
  const props: JsonObject = { category: 'shoes', price: 59.9, tags: ['sale', 'new'], at: '2024-04-01T10:00:00Z', gift: null, sku: 'AB-12' };
  const m = (filter: unknown) => matchesFilter((validateRule({ event: 'E', where: filter, op: 'gte', value: 1 }) as { where: PropertyFilter }).where, props);
  t.equal(m({ property: 'category', op: 'eq', value: 'shoes' }), true);
  t.equal(m({ property: 'category', op: 'neq', value: 'shoes' }), false);
  t.equal(m({ property: 'category', op: 'in', value: ['hats', 'shoes'] }), true);
  t.equal(m({ property: 'category', op: 'not_in', value: ['hats', 'shoes'] }), false);
  t.equal(m({ property: 'tags', op: 'contains', value: 'sale' }), true);
  t.equal(m({ property: 'sku', op: 'contains', value: 'B-1' }), true);
  t.equal(m({ property: 'price', op: 'gt', value: 50 }), true);
  t.equal(m({ property: 'price', op: 'gte', value: 59.9 }), true);
  t.equal(m({ property: 'price', op: 'lt', value: 59.9 }), false);
  t.equal(m({ property: 'price', op: 'lte', value: 60 }), true);
  t.equal(m({ property: 'price', op: 'between', value: [50, 60] }), true);
  t.equal(m({ property: 'price', op: 'gt', value: '50' }), false, 'no coercion');
  t.equal(m({ property: 'gift', op: 'exists' }), false);
  t.equal(m({ property: 'gift', op: 'not_exists' }), true);
  t.equal(m({ property: 'missing', op: 'not_exists' }), true);
  t.equal(m({ property: 'at', op: 'before', value: '2024-04-02' }), true);
  t.equal(m({ property: 'at', op: 'after', value: '2024-04-02' }), false);
  t.equal(m({ property: 'category', op: 'after', value: 0 }), false, 'not a date');
  t.equal(m({ all: [{ property: 'category', op: 'eq', value: 'shoes' }, { property: 'price', op: 'lt', value: 50 }] }), false);
  t.equal(m({ any: [{ property: 'category', op: 'eq', value: 'hats' }, { property: 'price', op: 'gt', value: 50 }] }), true);
  t.equal(m({ not: { property: 'category', op: 'eq', value: 'hats' } }), true);
});
