import t from 'tap';
import { PulseError } from '../../src/errors.ts';
import { evaluate, jsonEqual, parseRule, type ProfileFacts, type Rule } from '../../src/segments/rule.ts';

/** The PulseError parseRule throws for `text`, or a failure when it does not throw one. */
function ruleError(text: string): { code: string; field: string | undefined; message: string } {
  try {
    parseRule(text);
  } catch (err) {
    if (err instanceof PulseError) return { code: err.code, field: err.field, message: err.message };
    throw err;
  }
  throw new Error(`parseRule accepted ${text}`);
}

const j = (v: unknown): string => JSON.stringify(v);

void t.test('parses every kind of node', async (t) => {
  const rule = {
    all: [
      { trait: 'plan', op: 'eq', value: 'pro' },
      { trait: 'country', op: 'neq', value: { code: ['FR'] } },
      { trait: 'email', op: 'exists' },
      { any: [{ event: 'Purchase', op: 'gte', count: 2 }, { not: { trait: 'churned', op: 'eq', value: true } }] },
    ],
  };
  t.same(parseRule(j(rule)), rule);
  t.same(parseRule('{"trait":"x","op":"eq","value":null}'), { trait: 'x', op: 'eq', value: null }, 'a null value is a value');
});

void t.test('invalid JSON and non-objects', async (t) => {
  const bad = ruleError('{"all":');
  t.equal(bad.code, 'INVALID_ARGUMENT');
  t.equal(bad.field, 'rule');
  t.match(bad.message, /^rule: not valid JSON \(.+\)$/);
  t.same(ruleError('[]'), { code: 'INVALID_ARGUMENT', field: 'rule', message: 'rule: must be an object' });
  t.same(ruleError('"plan"'), { code: 'INVALID_ARGUMENT', field: 'rule', message: 'rule: must be an object' });
  t.same(ruleError('null'), { code: 'INVALID_ARGUMENT', field: 'rule', message: 'rule: must be an object' });
  t.same(ruleError('{}'), { code: 'INVALID_ARGUMENT', field: 'rule', message: 'rule: must have one of all, any, not, trait, event' });
  t.same(ruleError('{"all":[{"trait":"a","op":"exists"},7]}'), { code: 'INVALID_ARGUMENT', field: 'rule.all[1]', message: 'rule.all[1]: must be an object' });
});

void t.test('errors name the place in the tree', async (t) => {
  t.same(ruleError(j({ all: [{ trait: 'a', op: 'exists' }, { trait: 'b', op: 'gt', value: 1 }] })),
    { code: 'INVALID_ARGUMENT', field: 'rule.all[1].op', message: 'rule.all[1].op: must be one of eq, neq, exists' });
  t.same(ruleError(j({ not: { all: [{ any: [{ trait: 'x' }] }] } })),
    { code: 'INVALID_ARGUMENT', field: 'rule.not.all[0].any[0].op', message: 'rule.not.all[0].any[0].op: must be one of eq, neq, exists' });
  t.same(ruleError(j({ any: [{ event: 'Purchase', op: 'eq', count: 1 }] })),
    { code: 'INVALID_ARGUMENT', field: 'rule.any[0].op', message: 'rule.any[0].op: must be gte (did the event at least `count` times)' });
  t.same(ruleError(j({ not: { trait: 'plan', op: 'eq' } })),
    { code: 'INVALID_ARGUMENT', field: 'rule.not.value', message: 'rule.not.value: required for eq and neq' });
});

void t.test('all and any need a non-empty list', async (t) => {
  t.same(ruleError('{"all":[]}'), { code: 'INVALID_ARGUMENT', field: 'rule.all', message: 'rule.all: must be a non-empty list' });
  t.same(ruleError('{"any":{"trait":"a","op":"exists"}}'), { code: 'INVALID_ARGUMENT', field: 'rule.any', message: 'rule.any: must be a non-empty list' });
  t.same(ruleError('{"not":{"any":[]}}'), { code: 'INVALID_ARGUMENT', field: 'rule.not.any', message: 'rule.not.any: must be a non-empty list' });
});

void t.test('unknown keys are refused, listing the allowed ones', async (t) => {
  const leaf = { trait: 'a', op: 'exists' };
  t.same(ruleError(j({ all: [leaf], any: [leaf] })), { code: 'INVALID_ARGUMENT', field: 'rule', message: 'rule: unknown key "any" (allowed: all)' });
  t.same(ruleError(j({ any: [leaf], label: 'x' })), { code: 'INVALID_ARGUMENT', field: 'rule', message: 'rule: unknown key "label" (allowed: any)' });
  t.same(ruleError(j({ not: leaf, all: [leaf] })).message, 'rule: unknown key "not" (allowed: all)', 'all wins the dispatch, not is unknown');
  t.same(ruleError(j({ all: [{ not: leaf, extra: 1 }] })).message, 'rule.all[0]: unknown key "extra" (allowed: not)');
  t.same(ruleError(j({ trait: 'a', op: 'eq', value: 1, extra: true })).message, 'rule: unknown key "extra" (allowed: trait, op, value)');
  t.same(ruleError(j({ trait: 'a', op: 'exists', value: 1 })).message, 'rule: unknown key "value" (allowed: trait, op)', 'exists takes no value');
  t.same(ruleError(j({ trait: 'a', event: 'b', op: 'exists' })).message, 'rule: unknown key "event" (allowed: trait, op)');
  t.same(ruleError(j({ event: 'Buy', op: 'gte', count: 1, window: '7d' })).message, 'rule: unknown key "window" (allowed: event, op, count)');
});

void t.test('trait and event names, counts', async (t) => {
  const traitMsg = 'rule.trait: must be a trait name (1-256 characters)';
  t.equal(ruleError(j({ trait: '', op: 'exists' })).message, traitMsg);
  t.equal(ruleError(j({ trait: 'x'.repeat(257), op: 'exists' })).message, traitMsg);
  t.equal(ruleError(j({ trait: 3, op: 'exists' })).field, 'rule.trait');
  t.same(parseRule(j({ trait: 'x'.repeat(256), op: 'exists' })), { trait: 'x'.repeat(256), op: 'exists' });

  t.same(ruleError(j({ event: '', op: 'gte', count: 1 })), { code: 'INVALID_ARGUMENT', field: 'rule.event', message: 'rule.event: must be an event name (1-256 characters)' });
  t.equal(ruleError(j({ event: 'e'.repeat(257), op: 'gte', count: 1 })).field, 'rule.event');
  for (const count of [0, -1, 1.5, '2', null]) {
    t.same(ruleError(j({ any: [{ event: 'Buy', op: 'gte', count }] })),
      { code: 'INVALID_ARGUMENT', field: 'rule.any[0].count', message: 'rule.any[0].count: must be an integer >= 1' }, `count ${j(count)}`);
  }
  t.equal(ruleError(j({ event: 'Buy', op: 'gte' })).field, 'rule.count', 'missing count');
});

function nots(depth: number): unknown {
  let node: unknown = { trait: 'a', op: 'exists' };
  for (let i = 0; i < depth; i++) node = { not: node };
  return node;
}

void t.test('depth limit: 16 levels are fine, 17 are not', async (t) => {
  t.doesNotThrow(() => parseRule(j(nots(16))));
  const err = ruleError(j(nots(17)));
  const place = `rule${'.not'.repeat(17)}`;
  t.same(err, { code: 'INVALID_ARGUMENT', field: place, message: `${place}: nested deeper than 16` });
});

void t.test('size limit: 256 conditions are fine, 257 are not', async (t) => {
  const leaves = (n: number) => Array.from({ length: n }, (_, i) => ({ trait: `t${i}`, op: 'exists' }));
  t.equal((parseRule(j({ any: leaves(255) })) as { any: Rule[] }).any.length, 255, 'root + 255 leaves = 256 nodes');
  t.same(ruleError(j({ any: leaves(256) })),
    { code: 'INVALID_ARGUMENT', field: 'rule.any[255]', message: 'rule.any[255]: more than 256 conditions' });
});

const facts: ProfileFacts = {
  traits: { plan: 'pro', age: 30, gone: null, tags: ['a', 'b'], address: { city: 'Paris', geo: { lat: 48.8, lon: 2.3 } } },
  eventCounts: { Purchase: 2, $page: 5 },
};
const check = (rule: unknown): boolean => evaluate(parseRule(j(rule)), facts);

void t.test('eq and neq compare JSON values', async (t) => {
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
  t.equal(check({ trait: 'tags', op: 'eq', value: ['a', 'b'] }), true);
  t.equal(check({ trait: 'tags', op: 'eq', value: ['b', 'a'] }), false, 'array order matters');
});

void t.test('exists: present and not null', async (t) => {
  t.equal(check({ trait: 'plan', op: 'exists' }), true);
  t.equal(check({ trait: 'gone', op: 'exists' }), false, 'null does not exist');
  t.equal(check({ trait: 'missing', op: 'exists' }), false);
  t.equal(check({ trait: 'constructor', op: 'exists' }), false, 'inherited properties do not exist');
});

void t.test('event gte counts', async (t) => {
  t.equal(check({ event: 'Purchase', op: 'gte', count: 1 }), true);
  t.equal(check({ event: 'Purchase', op: 'gte', count: 2 }), true);
  t.equal(check({ event: 'Purchase', op: 'gte', count: 3 }), false);
  t.equal(check({ event: '$page', op: 'gte', count: 5 }), true);
  t.equal(check({ event: 'Signup', op: 'gte', count: 1 }), false, 'never done');
  t.equal(check({ event: 'constructor', op: 'gte', count: 1 }), false, 'inherited names count nothing');
});

void t.test('all, any, not', async (t) => {
  const yes = { trait: 'plan', op: 'eq', value: 'pro' };
  const no = { trait: 'plan', op: 'eq', value: 'free' };
  t.equal(check({ all: [yes, yes] }), true);
  t.equal(check({ all: [yes, no] }), false);
  t.equal(check({ any: [no, yes] }), true);
  t.equal(check({ any: [no, no] }), false);
  t.equal(check({ not: yes }), false);
  t.equal(check({ not: no }), true);
  t.equal(check({ not: { not: yes } }), true);
  t.equal(check({ all: [yes, { any: [no, { event: 'Purchase', op: 'gte', count: 2 }] }, { not: { trait: 'gone', op: 'exists' } }] }), true);
  t.equal(evaluate({ all: [] }, facts), true, 'an empty all (only by construction) is vacuously true');
  t.equal(evaluate({ any: [] }, facts), false);
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
