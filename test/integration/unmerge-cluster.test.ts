import t from 'tap';
import type { Cluster } from 'ioredis';
import { normalizeEvent, type PulseEvent } from '../../src/collection/event.ts';
import { EmbeddedWarehouse } from '../../src/infra/clickhouse-embedded.ts';
import { createLogger } from '../../src/infra/log.ts';
import { createMetrics } from '../../src/infra/metrics.ts';
import { DEFAULT_CONSENT_SETTINGS } from '../../src/privacy/consent.ts';
import { ProfileHistoryWriter } from '../../src/profiles/history.clickhouse.ts';
import { RedisProfileStore } from '../../src/profiles/profile.redis.ts';
import { ProfileUnmerger } from '../../src/profiles/unmerge.ts';
import { ClickHouseUnmergeHistory } from '../../src/profiles/unmerge.clickhouse.ts';
import { RedisUnmergeState } from '../../src/profiles/unmerge.redis.ts';
import { RedisFeatureStore } from '../../src/segments/features.redis.ts';
import { newSegment } from '../../src/segments/model.ts';
import { RealtimeSegments } from '../../src/segments/realtime.ts';
import { RedisSegmentStore } from '../../src/segments/segment.redis.ts';
import { EventWriter } from '../../src/warehouse/events.ts';
import { schemaStatements } from '../../src/warehouse/schema.ts';
import { tempDir, uniqueNamespace } from '../support/env.ts';
import { startRedisCluster, type LocalRedisCluster } from '../support/redis-cluster.ts';

// The unmerge scripts address the tenant's keys and a scratch namespace under the same `{tenant}`
// hash tag: on a cluster they must all land in one slot, whichever master serves it.
const ns = uniqueNamespace('umc');
const dir = tempDir();
let cluster: LocalRedisCluster;
let redis: Cluster;
let warehouse: EmbeddedWarehouse;

t.before(async () => {
  cluster = await startRedisCluster(3);
  redis = cluster.client();
  warehouse = new EmbeddedWarehouse(dir.path);
  for (const ddl of schemaStatements(ns)) await warehouse.exec(ddl);
});

t.teardown(async () => {
  redis.disconnect();
  await cluster.stop();
  await warehouse.close();
  dir.remove();
});

function events(tenant: string): PulseEvent[] {
  const at = (m: number) => new Date(Date.now() - (100 - m) * 60_000).toISOString();
  return [
    { type: 'identify', messageId: `${tenant}-1`, userId: 'ann', traits: { city: 'Rome' }, timestamp: at(1) },
    { type: 'track', messageId: `${tenant}-2`, anonymousId: 'ben-phone', event: 'Search', traits: { city: 'Oslo' }, timestamp: at(2) },
    { type: 'track', messageId: `${tenant}-3`, userId: 'ann', event: 'Search', context: { externalIds: [{ type: 'cookie', id: 'tablet' }] }, timestamp: at(3) },
    { type: 'track', messageId: `${tenant}-4`, anonymousId: 'ben-phone', event: 'Search', context: { externalIds: [{ type: 'cookie', id: 'tablet' }] }, timestamp: at(4) },
  ].map((raw) => {
    const r = normalizeEvent(raw, Date.now());
    if (!r.ok) throw new Error(r.problem.reason);
    return r.event;
  });
}

void t.test('tenants on different masters are split apart on a Redis Cluster', async (t) => {
  const profiles = new RedisProfileStore(redis, ns, 3600);
  const segments = new RedisSegmentStore(redis, ns);
  const features = new RedisFeatureStore(redis, ns, 3600);
  const log = createLogger('silent');
  const realtime = new RealtimeSegments({ segments, profiles, features, log, metrics: createMetrics(), now: Date.now });
  const unmerger = new ProfileUnmerger({
    state: new RedisUnmergeState(redis, ns), history: new ClickHouseUnmergeHistory(warehouse, ns),
    features: async (tenant) => (await realtime.definitions(tenant)).features, evaluate: (tenant, targets) => realtime.evaluate(tenant, targets, 'unmerge'),
    publishSegmentChanges: () => Promise.resolve(), publishProfileChange: () => Promise.resolve(), indexProfiles: () => Promise.resolve(),
    consent: DEFAULT_CONSENT_SETTINGS, log,
  });
  // Tenants whose slots are served by different masters.
  const tenants: string[] = [];
  const masters = new Set<number>();
  for (let i = 0; tenants.length < 3 && i < 200; i++) {
    const m = await cluster.masterOf(`{t${i}}`);
    if (!masters.has(m)) {
      masters.add(m);
      tenants.push(`t${i}`);
    }
  }
  t.equal(tenants.length, 3, 'one tenant per master');
  for (const tenant of tenants) {
    await segments.create(tenant, newSegment({ id: 'searchers', name: 'searchers', rule: 'count(Search) in last 1 days >= 2' }, Date.now()));
    const list = events(tenant);
    const results = await profiles.applyEvents(tenant, list);
    await realtime.recordFeatures(tenant, results.map((r, i) => ({ profileId: r.profileId, messageId: list[i]?.messageId ?? '', event: 'Search', properties: {}, at: list[i]?.timestamp ?? 0 })));
    await new ProfileHistoryWriter(warehouse, ns).write(tenant, list, results);
    await new EventWriter(warehouse, ns).write(tenant, results.map((r, i) => ({ event: list[i] as PulseEvent, profileId: r.profileId, maybeWritten: false })), Date.now());
    const pid = (await profiles.resolve(tenant, [{ type: 'user_id', id: 'ann' }])) ?? '';
    t.equal(await profiles.resolve(tenant, [{ type: 'anonymous_id', id: 'ben-phone' }]), pid, `${tenant}: fused`);

    const r = await unmerger.unmerge(tenant, pid, [{ type: 'anonymous_id', id: 'ben-phone' }], { allowPartialHistory: false, keyId: 'test' });
    t.same([r.eventsProfile, r.eventsSplit, r.warnings], [2, 2, []]);
    const ann = await profiles.get(tenant, pid);
    const ben = await profiles.get(tenant, r.splitProfileId);
    t.same([ann?.traits, ann?.eventCounts], [{ city: 'Rome' }, { $identify: 1, Search: 1 }], `${tenant}: Ann's own`);
    t.same([ben?.traits, ben?.eventCounts], [{ city: 'Oslo' }, { Search: 2 }], `${tenant}: Ben's own`);
    t.same(r.segmentChanges.map((c) => [c.profileId === pid ? 'ann' : 'ben', c.kind]), [['ben', 'enter']], 'Ben searched twice, Ann once');
  }
});
