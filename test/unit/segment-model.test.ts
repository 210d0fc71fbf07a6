import t from 'tap';
import { PulseError } from '../../src/errors.ts';
import { SEGMENT_ID_PATTERN, compile, evaluateAll, newSegment } from '../../src/segments/model.ts';

const NOW = 1_714_564_800_000;
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
    { code: 'INVALID_ARGUMENT', field: 'rule.any[0].op', message: 'rule.any[0].op: must be one of eq, neq, exists' });
  t.equal(failure(() => newSegment({ id: 'a', name: 'n', rule: '' }, NOW)).field, 'rule', 'empty rule text');
  t.equal(failure(() => newSegment({ id: 'BAD', name: '', rule: '' }, NOW)).field, 'id', 'the id is checked first');
  t.equal(failure(() => newSegment({ id: 'a', name: '', rule: '' }, NOW)).field, 'name', 'then the name');
});

void t.test('compile and evaluateAll give membership per segment, in order', async (t) => {
  const defs = [
    newSegment({ id: 'pro', name: 'Pro', rule: RULE }, NOW),
    newSegment({ id: 'buyers', name: 'Buyers', rule: '{"event":"Purchase","op":"gte","count":2}' }, NOW),
    newSegment({ id: 'not_pro', name: 'Not pro', rule: `{"not":${RULE}}` }, NOW),
  ];
  const compiled = compile(defs);
  t.same(compiled.map((c) => c.id), ['pro', 'buyers', 'not_pro']);
  t.same(evaluateAll(compiled, { traits: { plan: 'pro' }, eventCounts: { Purchase: 1 } }), [['pro', true], ['buyers', false], ['not_pro', false]]);
  t.same(evaluateAll(compiled, { traits: {}, eventCounts: { Purchase: 2 } }), [['pro', false], ['buyers', true], ['not_pro', true]]);
  t.same(evaluateAll([], { traits: {}, eventCounts: {} }), []);
});

void t.test('compile throws on a stored rule that does not parse', async (t) => {
  t.throws(() => compile([{ id: 'x', name: 'x', rule: '{"trait":1}', createdAt: NOW }]), { code: 'INVALID_ARGUMENT', field: 'rule.trait' });
});
