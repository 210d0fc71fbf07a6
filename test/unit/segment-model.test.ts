import t from 'tap';
import { PulseError } from '../../src/errors.ts';
import { SEGMENT_ID_PATTERN, compile, evaluateAll, newSegment, nextChangeAll, validateDefinitions, type SegmentDefinition } from '../../src/segments/model.ts';
import { featureId } from '../../src/segments/rule.ts';

const NOW = 1_714_564_800_000;
const MIN = 60_000;
const RULE = '{"trait":"plan","op":"eq","value":"pro"}';

function failure(fn: () => unknown): { code: string; field: string | undefined; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof PulseError) return { code: err.code, field: err.field, message: err.message };
    throw err;
  }
  throw new Error('expected a PulseError');
}

const def = (id: string, rule: string): SegmentDefinition => ({ id, name: id, rule, createdAt: NOW });

void t.test('an empty id is generated', async (t) => {
  const a = newSegment({ id: '', name: 'Pro users', rule: RULE }, NOW);
  const b = newSegment({ id: '', name: 'Pro users', rule: RULE }, NOW);
  t.match(a.id, /^seg_[0-9a-f]{16}$/);
  t.ok(SEGMENT_ID_PATTERN.test(a.id));
  t.not(a.id, b.id, 'generated ids differ');
  t.same(a, { id: a.id, name: 'Pro users', rule: RULE, createdAt: NOW });
});

void t.test('a given id, the name trimmed, the rule text kept as given', async (t) => {
  const rule = '{ "all": [ {"trait":"plan","op":"exists"} ] }';
  const s = newSegment({ id: 'pro_users-1', name: '  Pro users \n', rule }, NOW);
  t.same(s, { id: 'pro_users-1', name: 'Pro users', rule, createdAt: NOW });
  t.equal(newSegment({ id: 'a'.repeat(64), name: 'n', rule: RULE }, NOW).id.length, 64, '64 characters');
  t.equal(newSegment({ id: '0', name: 'n', rule: RULE }, NOW).id, '0', 'one character');
  const text = 'plan = "pro" and count(Purchase) in last 7 days >= 2';
  t.equal(newSegment({ id: 'texty', name: 'n', rule: text }, NOW).rule, text, 'the text form is accepted and kept');
});

void t.test('an invalid id names the field', async (t) => {
  for (const id of ['Pro', 'has space', '-lead', '_lead', 'a.b', 'a:b', 'a'.repeat(65), 'é']) {
    t.same(failure(() => newSegment({ id, name: 'n', rule: RULE }, NOW)),
      { code: 'INVALID_ARGUMENT', field: 'id', message: `id: must match ${SEGMENT_ID_PATTERN.source}` }, JSON.stringify(id));
  }
});

void t.test('the name must have 1-256 characters after trimming', async (t) => {
  const want = { code: 'INVALID_ARGUMENT', field: 'name', message: 'name: 1-256 characters required' };
  t.same(failure(() => newSegment({ id: 'a', name: '', rule: RULE }, NOW)), want);
  t.same(failure(() => newSegment({ id: 'a', name: '   \t', rule: RULE }, NOW)), want, 'blank');
  t.same(failure(() => newSegment({ id: 'a', name: 'n'.repeat(257), rule: RULE }, NOW)), want, '257 characters');
  t.equal(newSegment({ id: 'a', name: ` ${'n'.repeat(256)} `, rule: RULE }, NOW).name.length, 256);
});

void t.test('a bad rule is refused with its place', async (t) => {
  t.same(failure(() => newSegment({ id: 'a', name: 'n', rule: '{"any":[{"trait":"plan","op":"like","value":"p"}]}' }, NOW)),
    { code: 'INVALID_ARGUMENT', field: 'rule.any[0].op', message: 'rule.any[0].op: must be one of eq, neq, exists, not_exists, in, not_in, contains, gt, gte, lt, lte, between, before, after' });
  t.match(failure(() => newSegment({ id: 'a', name: 'n', rule: '{"trait":"plan"}' }, NOW)).message, /rule\.op: must be one of eq, neq, exists/, 'what the CLI test looks for');
  t.same(failure(() => newSegment({ id: 'a', name: 'n', rule: 'plan = ' }, NOW)),
    { code: 'INVALID_ARGUMENT', field: 'rule', message: 'rule: line 1, column 8: expected a value (a string, a number, true, false, null, [list] or {object}), found end of input' });
  t.equal(failure(() => newSegment({ id: 'a', name: 'n', rule: '' }, NOW)).field, 'rule', 'empty rule text');
  t.equal(failure(() => newSegment({ id: 'BAD', name: '', rule: '' }, NOW)).field, 'id', 'the id is checked first');
  t.equal(failure(() => newSegment({ id: 'a', name: '', rule: '' }, NOW)).field, 'name', 'then the name');
});

void t.test('compile and evaluateAll give membership per segment, in order, from counters-only facts', async (t) => {
  const defs = [
    newSegment({ id: 'pro', name: 'Pro', rule: RULE }, NOW),
    newSegment({ id: 'buyers', name: 'Buyers', rule: '{"event":"Purchase","op":"gte","count":2}' }, NOW),
    newSegment({ id: 'not_pro', name: 'Not pro', rule: `{"not":${RULE}}` }, NOW),
    newSegment({ id: 'recent', name: 'Recent', rule: 'count(Purchase) in last 7 days >= 1' }, NOW),
  ];
  const compiled = compile(defs);
  t.same(compiled.map((c) => c.id), ['pro', 'buyers', 'not_pro', 'recent']);
  t.same(evaluateAll(compiled, { traits: { plan: 'pro' }, eventCounts: { Purchase: 1 } }), [['pro', true], ['buyers', false], ['not_pro', false], ['recent', false]]);
  t.same(evaluateAll(compiled, { traits: {}, eventCounts: { Purchase: 2 } }), [['pro', false], ['buyers', true], ['not_pro', true], ['recent', false]],
    'a windowed condition without feature data reads as no occurrence');
  t.same(evaluateAll([], { traits: {}, eventCounts: {} }), []);
});

void t.test('evaluateAll with complete facts at a given time', async (t) => {
  const compiled = compile([def('recent', 'count(Purchase) in last 7 days >= 1')]);
  const id = featureId('Purchase', undefined, undefined);
  const features = new Map([[id, { occurrences: [{ at: NOW - 7 * 24 * 60 * MIN + 1, value: undefined }], total: { count: 1, sum: 0, min: undefined, max: undefined, first: NOW, last: NOW } }]]);
  t.same(evaluateAll(compiled, { traits: {}, eventCounts: {}, features }, NOW), [['recent', true]]);
  t.same(evaluateAll(compiled, { traits: {}, eventCounts: {}, features }, NOW + 1), [['recent', false]], 'the now argument when facts have none');
  t.same(evaluateAll(compiled, { now: NOW, traits: {}, eventCounts: {}, features }, NOW + 1), [['recent', true]], "the facts' own now wins");
  t.equal(nextChangeAll(compiled, { now: NOW, traits: {}, eventCounts: {}, features }), NOW + 1);
});

void t.test('segment references see fresh results, whatever the order given', async (t) => {
  const compiled = compile([
    def('vip-buyers', 'segment(buyers) and plan = "pro"'),
    def('not-buyers', 'not segment(buyers)'),
    def('buyers', 'count(Purchase) >= 1'),
    def('churned-ref', 'segment(churned)'),
  ]);
  t.same(evaluateAll(compiled, { traits: { plan: 'pro' }, eventCounts: { Purchase: 1 }, segments: new Set(['churned']) }),
    [['vip-buyers', true], ['not-buyers', false], ['buyers', true], ['churned-ref', true]], 'a segment outside the set keeps its stored membership');
  t.same(evaluateAll(compiled, { traits: { plan: 'pro' }, eventCounts: {}, segments: new Set(['buyers', 'vip-buyers']) }),
    [['vip-buyers', false], ['not-buyers', true], ['buyers', false], ['churned-ref', false]], 'stale stored membership is not used for a segment in the set');
  const cyclic = compile([def('a', 'segment(b)'), def('b', 'segment(a) or x exists')]);
  t.same(evaluateAll(cyclic, { traits: { x: 1 }, eventCounts: {} }), [['a', true], ['b', true]], 'a stored cycle still evaluates, cut at one reference');
});

void t.test('nextChangeAll: the earliest change of any segment', async (t) => {
  const compiled = compile([
    def('active', 'last seen within 30 minutes'),
    def('new', 'signup_at after 1 hour ago'),
    def('old-and-active', 'segment(active) and signup_at before 10 minutes ago'),
  ]);
  const facts = { now: NOW, traits: { signup_at: NOW - 5 * MIN }, eventCounts: {}, lastSeen: NOW - 20 * MIN };
  t.equal(nextChangeAll(compiled, facts), NOW + 5 * MIN + 1, 'old-and-active enters first: it sees active as a member');
  t.equal(nextChangeAll(compiled, { ...facts, traits: {} }), NOW + 10 * MIN, 'then active lapses');
  t.equal(nextChangeAll(compiled, { ...facts, traits: {}, lastSeen: undefined }), undefined);
});

void t.test('validateDefinitions: parse problems, then problems among definitions', async (t) => {
  t.strictSame(validateDefinitions([def('a', 'segment(b)'), def('b', 'count(P) >= 1')]), []);
  t.strictSame(validateDefinitions([def('a', 'x = '), def('b', '{"trait":1}'), def('c', 'segment(a) or segment(ghost)')]), [
    { segment: 'a', field: 'rule', message: 'rule: line 1, column 5: expected a value (a string, a number, true, false, null, [list] or {object}), found end of input' },
    { segment: 'b', field: 'rule.trait', message: 'rule.trait: must be a trait name (1-256 characters)' },
    { segment: 'c', field: 'rule.any[0].segment', message: 'rule.any[0].segment: segment "a" does not exist' },
    { segment: 'c', field: 'rule.any[1].segment', message: 'rule.any[1].segment: segment "ghost" does not exist' },
  ], 'a rule that does not parse counts as missing for the others');
  t.strictSame(validateDefinitions([def('a', 'segment(b)'), def('b', '{"segment":"a"}')]).map((p) => p.message),
    ['rule.segment: segment cycle: a -> b -> a', 'rule.segment: segment cycle: b -> a -> b']);
});

void t.test('compile throws on a stored rule that does not parse', async (t) => {
  t.throws(() => compile([{ id: 'x', name: 'x', rule: '{"trait":1}', createdAt: NOW }]), { code: 'INVALID_ARGUMENT', field: 'rule.trait' });
  t.throws(() => compile([{ id: 'x', name: 'x', rule: 'count(', createdAt: NOW }]), { code: 'INVALID_ARGUMENT', field: 'rule' });
});
