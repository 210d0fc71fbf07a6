import t from 'tap';
import { connectRedis, type RedisClient } from '../../src/infra/redis.ts';
import { tenantKeys } from '../../src/profiles/keys.ts';
import { features, type EventFeature } from '../../src/segments/features.ts';
import { RedisFeatureStore } from '../../src/segments/features.redis.ts';
import { parseRuleText } from '../../src/segments/rule-text.ts';
import { cleanupNamespace, REDIS_URL, uniqueNamespace } from '../support/env.ts';

const ns = uniqueNamespace('feat');
let redis: RedisClient;

t.before(async () => {
  redis = await connectRedis(REDIS_URL, 'features-test');
});

t.teardown(async () => {
  await redis.quit();
  await cleanupNamespace(ns);
});

const MIN = 60_000;
const HOUR = 60 * MIN;

function only(rule: string): EventFeature {
  const [f] = features(parseRuleText(rule));
  if (f === undefined) throw new Error(`no feature in ${rule}`);
  return f;
}

void t.test('occurrences are recorded once per messageId, trimmed to the horizon and read back inside it', async (t) => {
  const store = new RedisFeatureStore(redis, ns, 3600);
  const revenue = only('sum(Purchase.revenue where currency = "EUR") in last 1 hours >= 100');
  const visits = only('count(Visit) in last 10 minutes >= 1');
  const now = Date.parse('2026-06-01T12:00:00Z');
  const purchase = (messageId: string, at: number, revenue: unknown, currency = 'EUR') => ({
    profileId: 'p1', messageId, event: 'Purchase', properties: { revenue, currency } as never, at,
  });
  const events = [
    purchase('m1', now - 30 * MIN, 60),
    purchase('m|2', now - 20 * MIN, 45.5),
    purchase('m3', now - 10 * MIN, 99, 'USD'),
    purchase('m4', now - 5 * MIN, '70'),
    purchase('m5', now - 3 * HOUR, 500),
    { profileId: 'p1', messageId: 'v1', event: 'Visit', properties: {}, at: now - MIN },
  ];
  await store.record('acme', events, [revenue, visits], now);
  // A redelivery of the same batch changes nothing.
  await store.record('acme', events, [revenue, visits], now);

  const read = await store.read('acme', ['p1', 'nobody'], [revenue, visits], now);
  t.same(read.get('p1')?.get(revenue.id)?.occurrences, [
    { at: now - 30 * MIN, value: 60 },
    { at: now - 20 * MIN, value: 45.5 },
    { at: now - 5 * MIN, value: undefined },
  ], 'EUR purchases inside the hour, once each; a numeric string is not a number; the USD one and the 3-hour-old one are not there');
  t.same(read.get('p1')?.get(visits.id)?.occurrences, [{ at: now - MIN, value: undefined }]);
  t.same(read.get('nobody'), new Map(), 'a profile with no data has no features');

  const p1 = tenantKeys(ns, 'acme').profile('p1');
  t.equal(await redis.zcard(p1.feature(revenue.id)), 3, 'the occurrence older than horizon + slack was never stored');
  t.same((await redis.smembers(p1.fkeys)).sort(), [revenue.id, visits.id].sort(), 'fkeys lists the zsets a merge must move');
  t.ok((await redis.pttl(p1.feature(visits.id))) > 0, 'a zset lapses once its newest occurrence leaves the horizon');

  const later = await store.read('acme', ['p1'], [revenue], now + 35 * MIN);
  t.same(later.get('p1')?.get(revenue.id)?.occurrences.map((o) => o.value), [45.5, undefined], 'reading later drops what left the window');

  await store.record('acme', [purchase('m6', now + HOUR, 1)], [revenue], now + HOUR);
  t.same((await redis.zrange(p1.feature(revenue.id), 0, -1)).sort(), ['m4|', 'm6|1'], 'a new occurrence trims the old ones below horizon + slack');
});

void t.test('all-time totals count each event once, with sum, min, max, first and last', async (t) => {
  const store = new RedisFeatureStore(redis, ns, 3600);
  const lifetime = only('sum(Purchase.revenue) >= 1000');
  t.equal(lifetime.horizonMs, 'all');
  t.equal(lifetime.occurrenceHorizonMs, 0, 'only the total is read: no occurrences kept');
  const base = Date.parse('2020-01-01T00:00:00Z');
  const events = [10, 2.5, 40, 'n/a'].map((revenue, i) => ({
    profileId: 'p2', messageId: `t${i}`, event: 'Purchase', properties: { revenue } as never, at: base + i * HOUR,
  }));
  await store.record('acme', events, [lifetime], Date.now());
  await store.record('acme', events.slice(1, 3), [lifetime], Date.now());
  const data = (await store.read('acme', ['p2'], [lifetime], Date.now())).get('p2')?.get(lifetime.id);
  t.same(data?.occurrences, []);
  t.same(data?.total, { count: 4, sum: 52.5, min: 2.5, max: 40, first: base, last: base + 3 * HOUR }, 'redelivered events are not counted twice');
  t.equal(await redis.exists(tenantKeys(ns, 'acme').profile('p2').feature(lifetime.id)), 0, 'no zset for a total-only feature');
});

void t.test('occurrences recorded for a profile merged away meanwhile land on the profile it was merged into', async (t) => {
  const store = new RedisFeatureStore(redis, ns, 3600);
  const visits = only('count(Visit) in last 10 minutes >= 1');
  const now = Date.parse('2026-06-01T12:00:00Z');
  // Another processor merged p-gone into p-live after this batch resolved its event to p-gone.
  await redis.hset(tenantKeys(ns, 'acme').profile('p-gone').hash, 'merged_into', 'p-live');
  await store.record('acme', [{ profileId: 'p-gone', messageId: 'late-1', event: 'Visit', properties: {}, at: now - MIN }], [visits], now);
  const read = await store.read('acme', ['p-live', 'p-gone'], [visits], now);
  t.same(read.get('p-live')?.get(visits.id)?.occurrences, [{ at: now - MIN, value: undefined }], 'the survivor has the occurrence');
  t.equal(await redis.exists(tenantKeys(ns, 'acme').profile('p-gone').feature(visits.id)), 0, 'nothing written under the merged-away id');
});
