import t from 'tap';
import { readFileSync } from 'node:fs';
import { acceptEvents } from '../../src/collection/publisher.ts';
import {
  audienceEvent, audienceTrait, IAB_AUDIENCE_1_1_EXCERPT, mapSegments, parseTaxonomyMap, readAudienceRecord, UnmappedTally, type TaxonomyMap,
} from '../../src/collection/taxonomy.ts';

function parsed(data: unknown): TaxonomyMap {
  const r = parseTaxonomyMap(JSON.stringify(data));
  if (!r.ok) throw new Error(`expected a valid taxonomy map: ${r.problems.join('; ')}`);
  return r.taxonomy;
}

const IAB = { taxonomy: 'iab_audience_1.1', map: { 'seg-f': '49', 'seg-m': '50', 'seg-trav': ['720', '719'], 'seg-laptop': '954' } };

void t.test('the shipped example map is valid and uses real IAB Audience Taxonomy 1.1 ids', async (t) => {
  const r = parseTaxonomyMap(readFileSync(new URL('../../examples/taxonomy-map.example.json', import.meta.url), 'utf8'));
  t.ok(r.ok, r.ok ? 'valid' : r.problems.join('; '));
  if (!r.ok) return;
  t.equal(r.taxonomy.provider, 'example-data');
  for (const [id, name] of Object.entries(r.taxonomy.categories)) {
    t.equal(IAB_AUDIENCE_1_1_EXCERPT[id], name, `category ${id} is named as in the taxonomy excerpt`);
  }
  t.same(r.taxonomy.fields, { id: 'uid', idType: 'id_type', segments: 'segments', timestamp: undefined });
});

void t.test('the excerpt holds a few well-known nodes of the taxonomy', async (t) => {
  t.equal(IAB_AUDIENCE_1_1_EXCERPT['1'], 'Demographic');
  t.equal(IAB_AUDIENCE_1_1_EXCERPT['49'], 'Demographic | Gender | Female');
  t.equal(IAB_AUDIENCE_1_1_EXCERPT['50'], 'Demographic | Gender | Male');
  t.equal(IAB_AUDIENCE_1_1_EXCERPT['719'], 'Interest | Travel');
  t.ok(Object.keys(IAB_AUDIENCE_1_1_EXCERPT).every((id) => /^[1-9][0-9]*$/.test(id)), 'ids are numbers as text');
});

void t.test('segment ids map onto sorted, distinct taxonomy ids; unknown ones are reported', async (t) => {
  const map = parsed(IAB);
  t.same(mapSegments(map, ['seg-trav', 'seg-f', 'nope', 'seg-trav', 'nope']), { mapped: ['49', '719', '720'], unmapped: ['nope'] });
  t.same(mapSegments(map, []), { mapped: [], unmapped: [] });
  t.same(mapSegments(map, ['seg-laptop', 'seg-m']).mapped, ['50', '954'], 'numeric order, not text order');
});

void t.test('a tenant taxonomy maps onto its own categories', async (t) => {
  const map = parsed({ taxonomy: 'tenant', categories: { 'sports.fans': 'Sports fans', 'auto.intender': 'Car buyers' }, map: { '17': 'sports.fans', '18': ['auto.intender', 'sports.fans'] } });
  t.same(mapSegments(map, ['18']).mapped, ['auto.intender', 'sports.fans']);
  t.equal(map.categories['sports.fans'], 'Sports fans');
});

void t.test('every problem of a map is reported with its place', async (t) => {
  const r = parseTaxonomyMap(JSON.stringify({ taxonomy: 'iab_audience_1.1', categories: { abc: 'x' }, map: { a: 'IAB1-2', b: ['49'] } }));
  t.same(r, { ok: false, problems: [
    'categories.abc: not an IAB Audience Taxonomy 1.1 id (a number)',
    'map.a: "IAB1-2" is not an IAB Audience Taxonomy 1.1 id (a number)',
    'map.b: "49" is not in the map\'s categories',
  ] });
  t.same(parseTaxonomyMap(JSON.stringify({ taxonomy: 'tenant', map: { a: 'x' } })), { ok: false, problems: [
    'categories: required for a tenant taxonomy (its category ids and names)',
    'map.a: "x" is not one of the tenant\'s categories',
  ] });
  t.match(parseTaxonomyMap(JSON.stringify({ taxonomy: 'iab_4', map: {}, extra: 1 })), { ok: false, problems: [/^taxonomy: /, /extra/] });
  t.match(parseTaxonomyMap('not json'), { ok: false, problems: [/^not valid JSON/] });
});

void t.test('records: id, its type and segment ids in the forms providers send', async (t) => {
  const map = parsed(IAB);
  t.same(readAudienceRecord({ id: 'u1', segments: ['seg-f', 7] }, map, 'acme', undefined), { ok: true, record: { identifier: { type: 'partner:acme', id: 'u1' }, segments: ['seg-f', '7'], timestamp: undefined } });
  t.same(readAudienceRecord({ id: 'ABC', segments: 'a|b, c;d' }, map, 'acme', 'idfa'), { ok: true, record: { identifier: { type: 'idfa', id: 'ABC' }, segments: ['a', 'b', 'c', 'd'], timestamp: undefined } });
  const hash = 'A'.repeat(64);
  t.match(readAudienceRecord({ id: hash, id_type: 'email_sha256', segments: '' }, map, 'acme', 'gaid'), { ok: true, record: { identifier: { type: 'email_sha256', id: 'a'.repeat(64) }, segments: [] } }, 'the record names its type; hashes are lowercased');
  t.same(readAudienceRecord({ segments: 'a' }, map, 'acme', undefined), { ok: false, reason: 'id: missing' });
  t.match(readAudienceRecord({ id: 'x', id_type: 'email_sha256', segments: 'a' }, map, 'acme', undefined), { ok: false, reason: /^id: email_sha256 must be 64 lowercase hex/ });
  t.match(readAudienceRecord({ id: 'x', id_type: 'fax', segments: 'a' }, map, 'acme', undefined), { ok: false, reason: /unknown identifier type "fax"/ });
  t.same(readAudienceRecord({ id: 'x' }, map, 'acme', undefined), { ok: false, reason: 'segments: missing (a list of segment ids)' });
  const timed = parsed({ ...IAB, fields: { id: 'uid', segments: 'segs', timestamp: 'seen' } });
  t.match(readAudienceRecord({ uid: 'u', segs: ['seg-f'], seen: '2026-02-01T00:00:00Z' }, timed, 'acme', undefined), { ok: true, record: { timestamp: Date.parse('2026-02-01T00:00:00Z') } });
  t.same(readAudienceRecord({ uid: 'u', segs: ['seg-f'], seen: 'yesterday' }, timed, 'acme', undefined), { ok: false, reason: 'seen: not a date' });
});

void t.test('the audience event sets the per-provider trait and is deterministic per data set', async (t) => {
  const map = parsed(IAB);
  const asOf = Date.UTC(2026, 1, 1);
  const record = { identifier: { type: 'gaid', id: '38400000-8cf0-11bd-b23e-10b96e40000d' }, segments: ['seg-f'], timestamp: undefined };
  const e = audienceEvent('acme-data', map, record, ['49'], asOf);
  t.match(e, {
    type: 'identify', timestamp: '2026-02-01T00:00:00.000Z', traits: { audiences_3p_acme_data: ['49'] },
    context: { channel: 'partner', externalIds: [{ type: 'gaid', id: '38400000-8cf0-11bd-b23e-10b96e40000d' }], thirdParty: { provider: 'acme-data', taxonomy: 'iab_audience_1.1' } },
  });
  t.equal(audienceTrait('acme-data'), 'audiences_3p_acme_data');
  t.equal(audienceEvent('acme-data', map, record, ['49'], asOf)['messageId'], e['messageId'], 'the same data set again: the same messageId');
  t.not(audienceEvent('acme-data', map, record, ['49'], asOf + 1)['messageId'], e['messageId'], 'a newer data set: a new messageId');
  t.not(audienceEvent('acme-data', map, record, ['49', '50'], asOf)['messageId'], e['messageId'], 'other audiences: a new messageId');
  t.equal(acceptEvents([e], asOf).rejected.length, 0, 'the event passes the shared validation');
});

void t.test('unmapped ids are tallied within a bound', async (t) => {
  const tally = new UnmappedTally(2);
  tally.add(['a', 'b', 'a']);
  tally.add(['c', 'a']);
  t.equal(tally.occurrences, 5);
  t.equal(tally.distinct, 2, 'only the first two distinct ids are kept');
  t.equal(tally.overflow, 1);
  t.same(tally.top(5), [{ id: 'a', count: 3 }, { id: 'b', count: 1 }]);
});
