import t from 'tap';
import { evaluateCaps, impressionSubjects, lookupSubjects, selectCaps, targetKey, validateCap, type CapImpression, type FrequencyCap } from '../../src/activation/frequency.ts';

const MIN = 60_000;
const cap = (o: Partial<FrequencyCap> = {}): FrequencyCap => ({ id: 'c', scope: 'campaign', target: 'camp', limit: 2, windowMs: 10 * MIN, channel: undefined, ...o });
const imps = (list: [string, string, number][]) => new Map([[targetKey('campaign', 'camp'), list.map(([impressionId, channel, at]): CapImpression => ({ impressionId, channel, at }))]]);

void t.test('windows slide exactly: an impression counts while at > now - window', async (t) => {
  const data = imps([['a', 'web', 1000], ['b', 'web', 5 * MIN]]);
  const [inside] = evaluateCaps([cap()], data, 1000 + 10 * MIN - 1);
  t.same(inside, { cap: cap(), count: 2, capped: true, freesAt: 1000 + 10 * MIN });
  const [edge] = evaluateCaps([cap()], data, 1000 + 10 * MIN);
  t.same({ count: edge?.count, capped: edge?.capped, freesAt: edge?.freesAt }, { count: 1, capped: false, freesAt: undefined }, 'exactly one window old is outside');
});

void t.test('freesAt is when the count drops below the limit, not when the oldest leaves', async (t) => {
  const data = imps([['a', 'web', 0], ['b', 'web', MIN], ['c', 'web', 2 * MIN], ['d', 'web', 3 * MIN]]);
  const [s] = evaluateCaps([cap({ limit: 2 })], data, 4 * MIN);
  t.same({ count: s?.count, freesAt: s?.freesAt }, { count: 4, freesAt: 2 * MIN + 10 * MIN }, 'a, b and c must all leave');
});

void t.test('the same impression id counts once; per-channel caps count only their channel', async (t) => {
  const data = imps([['a', 'web', 0], ['a', 'web', 0], ['b', 'ctv', 1]]);
  const [all, web, ctv] = evaluateCaps([cap({ limit: 5 }), cap({ id: 'w', channel: 'web' }), cap({ id: 'v', channel: 'ctv', limit: 1 })], data, 2);
  t.equal(all?.count, 2);
  t.equal(web?.count, 1);
  t.same({ count: ctv?.count, capped: ctv?.capped, freesAt: ctv?.freesAt }, { count: 1, capped: true, freesAt: 1 + 10 * MIN });
});

void t.test('a target without impressions is not capped', async (t) => {
  t.same(evaluateCaps([cap({ scope: 'creative', target: 'camp' })], imps([['a', 'web', 0]]), 1).map((s) => s.count), [0], 'campaign impressions are not creative impressions');
});

void t.test('caps are selected by target and channel', async (t) => {
  const caps = [cap({ id: 'a' }), cap({ id: 'b', scope: 'creative', target: 'cr' }), cap({ id: 'c', channel: 'ctv' }), cap({ id: 'd', target: 'other' })];
  t.same(selectCaps(caps, { campaigns: [], creatives: [], channel: '' }).map((c) => c.id), ['a', 'b', 'c', 'd']);
  t.same(selectCaps(caps, { campaigns: ['camp'], creatives: ['cr'], channel: 'web' }).map((c) => c.id), ['a', 'b']);
  t.same(selectCaps(caps, { campaigns: ['camp'], creatives: [], channel: 'ctv' }).map((c) => c.id), ['a', 'c']);
});

void t.test('caps are validated naming the field', async (t) => {
  const ok = { id: 'cap-1', scope: 'campaign', target: 'camp', limit: 3, windowMs: 3_600_000, channel: '' };
  t.same(validateCap(ok), { id: 'cap-1', scope: 'campaign', target: 'camp', limit: 3, windowMs: 3_600_000, channel: undefined });
  t.equal(validateCap({ ...ok, channel: 'ctv' }).channel, 'ctv');
  for (const [patch, field] of [
    [{ id: 'Bad Id' }, 'id'], [{ scope: 'advertiser' }, 'scope'], [{ target: 'has space' }, 'target'], [{ limit: 0 }, 'limit'],
    [{ limit: 1.5 }, 'limit'], [{ windowMs: 999 }, 'window_seconds'], [{ windowMs: 31 * 86_400_000 }, 'window_seconds'], [{ channel: 'radio' }, 'channel'],
  ] as const) {
    t.throws(() => validateCap({ ...ok, ...patch }), { code: 'INVALID_ARGUMENT', field }, `${JSON.stringify(patch)} names ${field}`);
  }
});

void t.test('subjects: the profile when known, the identifiers otherwise; lookups read both', async (t) => {
  const ids = [{ type: 'gaid', id: 'g' }, { type: 'cookie', id: 'c' }];
  t.same(impressionSubjects('p1', ids), ['p:p1']);
  t.same(impressionSubjects(undefined, ids), ['i:gaid:g', 'i:cookie:c']);
  t.same(lookupSubjects('p1', ids), ['p:p1', 'i:gaid:g', 'i:cookie:c']);
});
