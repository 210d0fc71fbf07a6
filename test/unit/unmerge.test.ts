import t from 'tap';
import { PulseError } from '../../src/errors.ts';
import { checkSplit, repointed, sideOf, storedEvent, unmergeTraitRows, type StoredEvent } from '../../src/profiles/unmerge.ts';

void t.test('an event goes to the side of its first identifier in lookup priority', async (t) => {
  const a = new Set(['user_id:alice', 'cookie:home']);
  const b = new Set(['anonymous_id:b-dev', 'gaid:g1']);
  t.equal(sideOf(['anonymous_id:b-dev', 'cookie:home'], a, b), 'b', 'among equals, the order the event gave them');
  t.equal(sideOf(['cookie:home', 'anonymous_id:b-dev'], a, b), 'a');
  t.equal(sideOf(['anonymous_id:b-dev', 'user_id:alice'], a, b), 'a', 'user_id outranks an anonymous id');
  t.equal(sideOf(['cookie:home', 'gaid:g1'], a, b), 'b', 'a device id outranks a cookie');
  t.equal(sideOf(['user_id:someone', 'gaid:g1'], a, b), 'b', 'identifiers of neither side are passed over');
  t.equal(sideOf(['user_id:someone'], a, b), undefined, 'an event with none of them is not the profile\'s');
  t.equal(sideOf(['partner:acme:x', 'cookie:home'], a, b), 'a');
});

const row: StoredEvent = {
  messageId: 'm1', type: 'track', event: 'Purchase', userId: 'u1', anonymousId: '', at: 1_700_000_000_123,
  properties: '{"revenue":5}', traits: '{}', context: '{"externalIds":[{"type":"gaid","id":"g1"},{"type":"gaid","id":"g1"},{"bad":1}],"source":"crm"}',
  identifiers: [], profileId: 'p1',
};

void t.test('a stored row reads back as the event the processor applied', async (t) => {
  const e = storedEvent({ ...row, identifiers: ['user_id:u1', 'anonymous_id:prev', 'partner:acme:x1'] });
  t.match(e, {
    type: 'track', messageId: 'm1', timestamp: 1_700_000_000_123, userId: 'u1', anonymousId: undefined, event: 'Purchase',
    properties: { revenue: 5 }, traits: {}, context: { source: 'crm' },
  });
  t.same(e?.identifiers, [{ type: 'user_id', id: 'u1' }, { type: 'anonymous_id', id: 'prev' }, { type: 'partner:acme', id: 'x1' }], 'the stored identifiers, an alias\'s previousId included');
  t.same(storedEvent(row)?.identifiers, [{ type: 'user_id', id: 'u1' }, { type: 'gaid', id: 'g1' }], 'older rows: from userId, anonymousId and context.externalIds, each once');
  t.same(storedEvent({ ...row, properties: 'not json', context: '[1]' })?.properties, {}, 'unreadable JSON reads as empty');
  t.equal(storedEvent({ ...row, type: 'bogus' }), undefined, 'not an event type Pulse applies');
});

void t.test('the split must be a proper subset of the profile\'s identifiers', async (t) => {
  const held = ['anonymous_id:a', 'anonymous_id:b', 'user_id:u'];
  t.same(checkSplit([{ type: 'user_id', id: 'u' }, { type: 'anonymous_id', id: 'b' }, { type: 'user_id', id: 'u' }], held), ['anonymous_id:b', 'user_id:u'], 'sorted, each once');
  t.throws(() => checkSplit([{ type: 'anonymous_id', id: 'b' }, { type: 'gaid', id: 'x' }], held),
    new PulseError('FAILED_PRECONDITION', 'split[1]: this gaid is not an identifier of the profile', { field: 'split[1]' }));
  t.throws(() => checkSplit([{ type: 'anonymous_id', id: 'a' }, { type: 'anonymous_id', id: 'b' }, { type: 'user_id', id: 'u' }], held),
    { code: 'FAILED_PRECONDITION', field: 'split', message: /every identifier of the profile/ });
});

void t.test('merged-away ids follow their identifiers when all of them split off', async (t) => {
  const merges = [
    { merged: 'p2', survivor: 'p1', identifiers: ['anonymous_id:b'] },
    { merged: 'p3', survivor: 'p1', identifiers: ['anonymous_id:b', 'cookie:c'] },
    { merged: 'p4', survivor: 'p2', identifiers: [] },
  ];
  t.same(repointed(merges, new Set(['anonymous_id:b'])), ['p2']);
  t.same(repointed(merges, new Set(['anonymous_id:b', 'cookie:c'])), ['p2', 'p3']);
});

void t.test('trait history rows say what the unmerge changed on each side', async (t) => {
  const rows = unmergeTraitRows('acme', {
    profileId: 'p1', before: { name: '"Bob"', plan: '"pro"', city: '"Oslo"' }, after: { name: '"Alice"', plan: '"pro"', age: '40' },
    splitProfileId: 'p2', split: { name: '"Bob"', city: '"Oslo"' }, unmergeId: 'unmerge:p2', keyId: 'k1', at: Date.UTC(2026, 0, 2, 3, 4, 5),
  });
  t.same(rows.map((r) => [r['profile_id'], r['trait'], r['value']]), [
    ['p1', 'age', '40'], ['p1', 'city', 'null'], ['p1', 'name', '"Alice"'],
    ['p2', 'city', '"Oslo"'], ['p2', 'name', '"Bob"'],
  ], 'unchanged traits are left out; a trait gone from the profile reads null');
  t.match(rows[0], { tenant: 'acme', source: 'unmerge', key_id: 'k1', message_id: 'unmerge:p2', at: '2026-01-02 03:04:05.000' });
});
