import t from 'tap';
import { compileMapping, mappingColumns, mappingHash, mapRecord, parseMapping, type Mapping } from '../../src/collection/mapping.ts';
import { acceptEvents } from '../../src/collection/publisher.ts';

const CRM = {
  type: 'identify',
  userId: 'customer_id',
  anonymousId: null,
  timestamp: 'updated_at',
  traits: {
    email: { column: 'Email', as: ['trim', 'lowercase'] },
    plan: 'plan',
    ltv: { column: 'lifetime_value', as: 'number' },
    newsletter: { column: 'opt_in', as: 'boolean' },
    tags: { column: 'tags', as: ['split(;)', 'lowercase'] },
    signed_up: { column: 'signup', as: 'date' },
    source: { value: 'crm' },
  },
  externalIds: [{ type: 'gaid', column: 'gaid' }, { type: 'partner:acme', column: 'acme_id', as: 'string' }],
  context: { channel: 'offline' },
};

function compiled(data: unknown): Mapping {
  const r = compileMapping(data);
  if (!r.ok) throw new Error(`expected a valid mapping: ${r.problems.join('; ')}`);
  return r.mapping;
}

function problems(data: unknown): string[] {
  const r = compileMapping(data);
  if (r.ok) throw new Error(`expected the mapping to be refused: ${JSON.stringify(data)}`);
  return r.problems;
}

void t.test('a CRM row becomes an identify event with transformed traits and external ids', async (t) => {
  const m = compiled(CRM);
  const r = mapRecord(m, {
    customer_id: 'C-1001', updated_at: '2024-03-01 10:00:00', Email: '  Ann@Example.COM ', plan: 'pro', lifetime_value: '1234.50',
    opt_in: 'Yes', tags: 'VIP; Churn-Risk;;', signup: '1700000000', gaid: '38400000-8cf0-11bd-b23e-10b96e40000d', acme_id: 77,
  }, 'mid-1');
  t.same(r, {
    ok: true,
    event: {
      type: 'identify', messageId: 'mid-1', userId: 'C-1001', timestamp: '2024-03-01 10:00:00',
      traits: { email: 'ann@example.com', plan: 'pro', ltv: 1234.5, newsletter: true, tags: ['vip', 'churn-risk'], signed_up: '2023-11-14T22:13:20.000Z', source: 'crm' },
      context: { channel: 'offline', externalIds: [{ type: 'gaid', id: '38400000-8cf0-11bd-b23e-10b96e40000d' }, { type: 'partner:acme', id: '77' }] },
    },
  });
  const accepted = acceptEvents([r.ok ? r.event : null], Date.UTC(2024, 4, 1));
  t.equal(accepted.rejected.length, 0, 'the mapped event passes the shared validation');
  t.equal(accepted.accepted[0]?.['timestamp'], '2024-03-01T10:00:00.000Z', 'a date-time without offset is taken as UTC');
});

void t.test('empty cells are left out; required columns refuse the row', async (t) => {
  const m = compiled({ ...CRM, userId: { column: 'customer_id', required: true } });
  const r = mapRecord(m, { customer_id: 'C-2', Email: '', plan: '  ', lifetime_value: '', gaid: '' }, 'mid-2');
  t.same(r, { ok: true, event: { type: 'identify', messageId: 'mid-2', userId: 'C-2', traits: { source: 'crm' }, context: { channel: 'offline' } } });
  t.same(mapRecord(m, { customer_id: '' }, 'mid-3'), { ok: false, problem: { field: 'userId', reason: 'userId: column "customer_id" is empty' } });
});

void t.test('a value a transform cannot take refuses the row, naming the field and the column', async (t) => {
  const m = compiled(CRM);
  t.same(mapRecord(m, { customer_id: 'C-3', lifetime_value: 'lots' }, 'x'), { ok: false, problem: { field: 'traits.ltv', reason: 'traits.ltv: column "lifetime_value": "lots" is not a number' } });
  t.match(mapRecord(m, { customer_id: 'C-3', opt_in: 'maybe' }, 'x'), { ok: false, problem: { field: 'traits.newsletter', reason: /is not a boolean/ } });
  t.match(mapRecord(m, { customer_id: 'C-3', signup: 'next tuesday' }, 'x'), { ok: false, problem: { field: 'traits.signed_up', reason: /is not a date/ } });
  t.match(mapRecord(m, { customer_id: 'C-3', gaid: ['a', 'b'] }, 'x'), { ok: false, problem: { field: 'externalIds.0', reason: /single value, not a list/ } });
  const long = mapRecord(m, { customer_id: 'C-3', lifetime_value: 'x'.repeat(500) }, 'x');
  t.ok(!long.ok && long.problem.reason.length < 120, 'a reason quotes at most a short preview of the value');
});

void t.test('NDJSON values keep their JSON types; numbers and booleans pass their transforms', async (t) => {
  const m = compiled({
    type: 'track', event: { value: 'Store Purchase' }, userId: 'uid', timestamp: { column: 'ts', as: 'date' },
    properties: { amount: { column: 'amount', as: 'number' }, gift: { column: 'gift', as: 'boolean' }, items: 'items', sku: { column: 'sku', as: 'uppercase' } },
  });
  const r = mapRecord(m, { uid: 42, ts: 1_700_000_000_000, amount: 19.99, gift: false, items: [{ sku: 'a' }], sku: 'ab-1' }, 'mid-4');
  t.same(r, {
    ok: true,
    event: {
      type: 'track', messageId: 'mid-4', event: 'Store Purchase', userId: 42, timestamp: '2023-11-14T22:13:20.000Z',
      properties: { amount: 19.99, gift: false, items: [{ sku: 'a' }], sku: 'AB-1' }, context: {},
    },
  });
  const track = compiled({ type: 'track', event: 'action', anonymousId: 'device' });
  const noName = mapRecord(track, { device: 'd1', action: '' }, 'mid-5');
  t.ok(noName.ok, 'mapping leaves validation to the shared step');
  t.same(acceptEvents([noName.ok ? noName.event : null], 0).rejected.map((x) => x.problem.field), ['event'], 'which refuses a track without a name');
});

void t.test('every mapping problem is reported at once, with its place', async (t) => {
  t.same(problems({
    type: 'track',
    traits: { ltv: { column: 'lifetime_value', as: 'numbr' }, plan: 3, both: { column: 'a', value: 1 }, '': 'x' },
    properties: { p: { value: 1, as: 'number' } },
    externalIds: [{ type: 'fax', column: 'fax' }, { type: 'gaid' }],
    context: { externalIds: [] },
    segmnts: [],
  }).sort(), [
    'context.externalIds: map externalIds with the top-level "externalIds" of the mapping',
    'event: required for track (the event name: a column or {"value": "<name>"})',
    'externalIds.0.type: unknown identifier type "fax" (known: user_id, anonymous_id, email_sha256, phone_sha256, idfa, gaid, cookie, partner:<name>)',
    'externalIds.1.column: Invalid input: expected string, received undefined',
    'mapping: Unrecognized key: "segmnts"',
    'properties.p: "as" and "required" apply to a column, not to a constant value',
    'traits.: field names must not be empty',
    'traits.both: must be a column name, {"column": "<name>", "as": <transform(s)>, "required": <bool>} or {"value": <constant>}: give exactly one of column and value',
    'traits.ltv.as.0: unknown transform "numbr" (known: string, number, boolean, date, lowercase, uppercase, trim, split(<separator>))',
    'traits.plan: must be a column name, {"column": "<name>", "as": <transform(s)>, "required": <bool>} or {"value": <constant>}',
  ].sort());
  t.same(problems({ type: 'identify', anonymousId: null, traits: { plan: 3 } }), [
    'traits.plan: must be a column name, {"column": "<name>", "as": <transform(s)>, "required": <bool>} or {"value": <constant>}',
    'userId: map at least one identifier: userId, anonymousId or externalIds',
  ]);
  t.same(problems({ type: 'identify', userId: 'id', event: 'x', properties: {} }), ['event: only for track', 'properties: only for track (identify carries traits)']);
  t.same(problems({ type: 'page', userId: 'id' }), ['type: Invalid option: expected one of "identify"|"track"']);
  t.match(parseMapping('{"type": "identify",'), { ok: false, problems: [/^mapping: not valid JSON/] });
});

void t.test('columns and hash of a mapping', async (t) => {
  const m = compiled(CRM);
  t.same(mappingColumns(m).sort(), ['Email', 'acme_id', 'customer_id', 'gaid', 'lifetime_value', 'opt_in', 'plan', 'signup', 'tags', 'updated_at']);
  const reordered = compiled({ context: CRM.context, externalIds: CRM.externalIds, traits: Object.fromEntries(Object.entries(CRM.traits).reverse()), timestamp: 'updated_at', userId: 'customer_id', type: 'identify' });
  t.equal(mappingHash(reordered), mappingHash(m), 'key order and absent nulls do not change the hash');
  t.not(mappingHash(compiled({ ...CRM, traits: { ...CRM.traits, plan: { column: 'plan', as: 'lowercase' } } })), mappingHash(m), 'a changed transform changes it');
});
