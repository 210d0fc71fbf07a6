import t from 'tap';
import { RedisFrequencyStore } from '../../src/activation/frequency.redis.ts';
import { FrequencyStoreV2 } from '../../src/activation/frequency-v2.redis.ts';
import { RedisIdSync } from '../../src/activation/id-sync.redis.ts';
import type { PulseEvent } from '../../src/collection/event.ts';
import { parseIdentifierKey, type Identifier } from '../../src/identity/identifier.ts';
import { connectRedis, type RedisClient } from '../../src/infra/redis.ts';
import type { JsonObject } from '../../src/json.ts';
import { bucketKeys, profileKeys, tenantKeys } from '../../src/profiles/keys.ts';
import { isLayoutRefusal } from '../../src/profiles/layout.redis.ts';
import { migrateRedisLayout, type MigratePhase } from '../../src/profiles/migrate-layout.ts';
import { RedisProfileStoreV2 } from '../../src/profiles/profile-v2.redis.ts';
import { RedisProfileStore } from '../../src/profiles/profile.redis.ts';
import { RedisUnmergeState } from '../../src/profiles/unmerge.redis.ts';
import { MergeRunner } from '../../src/profiles/merge.redis.ts';
import { RedisSegmentDefinitions } from '../../src/segments/definitions.redis.ts';
import { features as featuresOf } from '../../src/segments/features.ts';
import { FeatureStoreV2 } from '../../src/segments/features-v2.redis.ts';
import { RedisFeatureStore } from '../../src/segments/features.redis.ts';
import { newSegment } from '../../src/segments/model.ts';
import { parseRuleText } from '../../src/segments/rule-text.ts';
import { RedisMembershipStoreV2 } from '../../src/segments/segment-v2.redis.ts';
import { RedisSegmentStore } from '../../src/segments/segment.redis.ts';
import type { FeatureEvent } from '../../src/segments/store.ts';
import { RedisAudienceReader } from '../../src/targeting/audience.redis.ts';
import { RedisAudienceReaderV2 } from '../../src/targeting/audience-v2.redis.ts';
import { cleanupNamespace, REDIS_URL, uniqueNamespace } from '../support/env.ts';
import { startRedisCluster } from '../support/redis-cluster.ts';

/*
 * `pulse migrate redis-layout` (per-profile-layout.md §8, step 11): a tenant built through the v1
 * stores (merges, a merge chain, features, frequency impressions of profiles and of identifiers,
 * segments, due entries, an id sync) is migrated, the first run interrupted; afterwards the v2
 * stores and readers answer what the v1 ones answered, a redelivered old event is a duplicate on
 * v2, v1 writes answer paused during and after the migration, and cleanup leaves only config.
 */

const ns = uniqueNamespace('migr');
const TENANT = 'acme';
const BUCKETS = 8;
const TTL = 3600;
const NOW = Date.now();
const RULES = ['count(Purchase) >= 1', 'sum(Purchase.revenue) in last 1 hours >= 50', 'count(Visit) in last 10 minutes >= 1'];
const FEATURES = featuresOf(...RULES.map((r) => parseRuleText(r)));
let redis: RedisClient;

t.before(async () => {
  redis = await connectRedis(REDIS_URL, 'migrate-layout-test');
});

t.teardown(async () => {
  await redis.quit();
  await cleanupNamespace(ns);
});

function ev(mid: string, ageMs: number, ids: string[], name: string, props: JsonObject = {}, traits: JsonObject = {}): PulseEvent {
  return {
    type: 'track', messageId: mid, timestamp: NOW - ageMs, userId: undefined, anonymousId: undefined,
    event: name, properties: props, traits, context: { source: 'web' }, identifiers: ids.map(parseIdentifierKey), extra: {},
  };
}

/** Everything the v1 tenant holds, as the readers answer it; the same questions go to the v2 readers after. */
interface Answers {
  readonly views: unknown[];
  readonly resolved: unknown[];
  readonly lookups: unknown[];
  readonly features: unknown;
  readonly impressions: unknown;
  readonly members: Record<string, string[]>;
  readonly due: [string, string][];
  readonly syncs: unknown;
}

const people = [0, 1, 2, 3, 4, 5];
const idsOf = (k: number): string[] => [`anonymous_id:a-${k}`, `cookie:c-${k}`, `user_id:u-${k}`, ...(k === 0 ? ['gaid:g-0'] : [])];
const oldEvents: PulseEvent[] = [];
let allPids: string[] = [];
const UNMERGED = '0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6';
let unmerged = { a: '', b: '' };

/** The v1 tenant: 6 people, each first as a device and as a user; the even ones linked (0 twice, a chain). */
async function buildV1(): Promise<void> {
  oldEvents.length = 0;
  const profiles = new RedisProfileStore(redis, ns, TTL);
  const feats = new RedisFeatureStore(redis, ns, TTL);
  const freq = new RedisFrequencyStore(redis, ns);
  const segs = new RedisSegmentStore(redis, ns);
  for (const [id, rule] of [['buyers', RULES[0]], ['big', RULES[1]], ['visitors', RULES[2]]] as const) await segs.create(TENANT, newSegment({ id, name: `Name of ${id}`, rule: rule ?? '' }, NOW));
  const pids = new Set<string>();
  const record = async (events: PulseEvent[]): Promise<void> => {
    const applied = await profiles.applyEvents(TENANT, events);
    oldEvents.push(...events);
    const fe: FeatureEvent[] = events.map((e, i) => ({ profileId: applied[i]?.profileId ?? '', messageId: e.messageId, event: e.event ?? '', properties: e.properties, at: e.timestamp }));
    await feats.record(TENANT, fe, FEATURES, NOW);
    for (const a of applied) pids.add(a.profileId);
  };
  for (const k of people) {
    await record([ev(`a${k}`, 40 * 60_000, [`anonymous_id:a-${k}`, `cookie:c-${k}`], 'Visit', {}, { plan: 'free', seen: k })]);
    await record([ev(`p${k}`, 5 * 60_000, [`user_id:u-${k}`], 'Purchase', { revenue: 20 + k * 10 }, { plan: 'pro' })]);
    if (k === 0) await record([ev('g0', 3 * 60_000, ['gaid:g-0'], 'Visit')]);
    const pid = await profiles.resolve(TENANT, [parseIdentifierKey(`anonymous_id:a-${k}`)]) ?? '';
    await freq.recordImpressions(TENANT, [{ impressionId: `imp-${k}`, subjects: [`p:${pid}`], targets: ['campaign:c1', 'creative:x:1'], channel: 'web', at: NOW - 1000 }], NOW);
  }
  await freq.recordImpressions(TENANT, [{ impressionId: 'imp-anon', subjects: ['i:gaid:g-9'], targets: ['campaign:c1'], channel: 'web', at: NOW - 500 }], NOW);
  for (const k of people.filter((x) => x % 2 === 0)) await record([ev(`l${k}`, 60_000, [`user_id:u-${k}`, `anonymous_id:a-${k}`], 'Visit', {}, { linked: true })]);
  await record([ev('l0b', 30_000, ['gaid:g-0', 'user_id:u-0'], 'Purchase', { revenue: 5 })]);
  // Person 2 unmerged again (the v1 swap and its de-dup follow-up): the user side becomes a new
  // profile, the merged-away user profile reads as it, and the two may never merge again.
  const s2 = await profiles.resolve(TENANT, [parseIdentifierKey('anonymous_id:a-2')]) ?? '';
  const state = new RedisUnmergeState(redis, ns);
  const scratch = state.scratch(TENANT);
  const byMid = (mid: string): PulseEvent => oldEvents.find((e) => e.messageId === mid) as PulseEvent;
  await scratch.replay('a', [byMid('a2')], FEATURES, NOW);
  await scratch.replay('b', [byMid('p2'), byMid('l2')], FEATURES, NOW);
  const loser2 = (await Promise.all([...pids].map(async (p) => [p, await redis.hget(tenantKeys(ns, TENANT).profile(p).hash, 'merged_into')] as const))).find(([, into]) => into === s2)?.[0];
  if (loser2 === undefined) throw new Error('person 2 was not merged');
  const swapped = await scratch.swap({
    profileId: s2, expectedVersion: (await profiles.get(TENANT, s2))?.version ?? 0, newProfileId: UNMERGED, now: NOW, consentTrait: '$consent', split: ['user_id:u-2'], repoint: [loser2],
  });
  if (swapped.kind !== 'ok') throw new Error(`the v1 unmerge answered ${swapped.kind}`);
  await state.repointDedup(TENANT, ['p2', 'l2'], UNMERGED);
  await scratch.discard();
  pids.add(UNMERGED);
  unmerged = { a: s2, b: UNMERGED };
  allPids = [...pids];
  // Membership as the real-time path writes it: each live profile evaluated, some due again later.
  const live = [...new Set(await Promise.all(people.map(async (k) => await profiles.resolve(TENANT, [parseIdentifierKey(`user_id:u-${k}`)]) ?? '')))];
  const anonLive = await Promise.all(people.filter((k) => k % 2 === 1).map(async (k) => await profiles.resolve(TENANT, [parseIdentifierKey(`anonymous_id:a-${k}`)]) ?? ''));
  for (const [n, pid] of [...live, ...anonLive].entries()) {
    const view = await profiles.get(TENANT, pid);
    await segs.writeMembership(TENANT, pid, view?.version ?? 0, [['buyers', (view?.eventCounts['Purchase'] ?? 0) > 0], ['big', n % 3 === 0], ['visitors', n % 2 === 0]], {
      at: NOW, schedule: 'set', nextChange: n % 2 === 0 ? NOW + 3_600_000 + n : undefined, definitions: undefined,
    });
  }
  // A deleted segment: its id stays in its members' `segs`, its member set is gone.
  await segs.create(TENANT, newSegment({ id: 'dropped', name: 'Dropped', rule: RULES[0] ?? '' }, NOW));
  for (const pid of live) await segs.writeMembership(TENANT, pid, (await profiles.get(TENANT, pid))?.version ?? 0, [['dropped', true]], undefined);
  await segs.delete(TENANT, 'dropped');
  await new RedisSegmentDefinitions(redis, ns).indexProfiles(TENANT, allPids);
  await new RedisIdSync(redis, ns).link(TENANT, 'dsp1', parseIdentifierKey('user_id:u-0'), 'X0');
  await new RedisIdSync(redis, ns).link(TENANT, 'dsp1', parseIdentifierKey('cookie:c-3'), 'X3');
}

interface Readers {
  readonly profiles: { get: RedisProfileStore['get']; resolve: RedisProfileStore['resolve'] };
  readonly audience: { audience: RedisAudienceReader['audience'] };
  readonly features: { read: RedisFeatureStore['read'] };
  readonly frequency: { impressions: RedisFrequencyStore['impressions'] };
  readonly members: (segment: string) => Promise<string[]>;
  readonly due: () => Promise<[string, string][]>;
  readonly sync: RedisIdSync;
}

const v1Readers = (): Readers => ({
  profiles: new RedisProfileStore(redis, ns, TTL), audience: new RedisAudienceReader(redis, ns), features: new RedisFeatureStore(redis, ns, TTL), frequency: new RedisFrequencyStore(redis, ns),
  members: async (s) => (await redis.smembers(tenantKeys(ns, TENANT).segMembers(s))).sort(),
  due: async () => pairs(await redis.zrange(tenantKeys(ns, TENANT).due, 0, -1, 'WITHSCORES')),
  sync: new RedisIdSync(redis, ns),
});

const v2Readers = (): Readers => {
  const membership = new RedisMembershipStoreV2(redis, ns, BUCKETS);
  return {
    profiles: new RedisProfileStoreV2(redis, ns, TTL), audience: new RedisAudienceReaderV2(redis, ns), features: new FeatureStoreV2(redis, ns, TTL), frequency: new FrequencyStoreV2(redis, ns),
    members: async (s) => {
      const out: string[] = [];
      for await (const page of membership.members(TENANT, s)) out.push(...page);
      return out.sort();
    },
    due: async () => (await Promise.all(Array.from({ length: BUCKETS }, (_, b) => redis.zrange(bucketKeys(ns, TENANT, b).due, 0, -1, 'WITHSCORES')))).flatMap(pairs).sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    sync: new RedisIdSync(redis, ns, 'profile'),
  };
};

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i] ?? '', flat[i + 1] ?? '']);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

async function answers(r: Readers): Promise<Answers> {
  const idfs: Identifier[] = [...people.flatMap(idsOf), 'gaid:g-9'].map(parseIdentifierKey);
  const live = [...new Set((await Promise.all(allPids.map((p) => r.profiles.get(TENANT, p)))).map((v) => v?.id ?? ''))].sort();
  const featureMap = await r.features.read(TENANT, live, FEATURES, NOW);
  const subjects = [...live.map((p) => `p:${p}`), 'i:gaid:g-9'];
  const impressions = await r.frequency.impressions(TENANT, subjects, ['campaign:c1', 'creative:x:1'], NOW - 3_600_000);
  const audience = async (idf: Identifier): Promise<unknown> => {
    const a = await r.audience.audience(TENANT, [idf]);
    return a === undefined ? null : { profileId: a.profileId, segments: [...a.segments].sort((x, y) => (x.id < y.id ? -1 : 1)) };
  };
  return {
    views: await Promise.all(allPids.map((p) => r.profiles.get(TENANT, p))),
    resolved: await Promise.all(idfs.map((i) => r.profiles.resolve(TENANT, [i]))),
    lookups: await Promise.all(idfs.map(audience)),
    features: [...featureMap].map(([pid, m]) => [pid, [...m].sort((a, b) => (a[0] < b[0] ? -1 : 1))]).sort(),
    impressions: [...impressions].map(([target, list]) => [target, [...list].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1))]).sort(),
    members: Object.fromEntries(await Promise.all(['buyers', 'big', 'visitors'].map(async (s) => [s, await r.members(s)] as const))),
    due: await r.due(),
    syncs: [...await r.sync.subjects(TENANT, 'dsp1', live)].sort(),
  };
}

/** Whether a v1 write of a new event is refused by the layout marker. */
async function v1Refused(mid: string): Promise<boolean> {
  const err = await new RedisProfileStore(redis, ns, TTL).applyEvents(TENANT, [ev(mid, 0, ['user_id:u-1'], 'Visit')]).then(() => undefined, (e: unknown) => e);
  return isLayoutRefusal(err);
}

void t.test('a v1 tenant migrated to the per-profile layout answers as before', async (t) => {
  await buildV1();
  const before = await answers(v1Readers());
  t.equal(new Set(before.views.map((v) => (v as { id: string } | undefined)?.id)).size, 10, 'ten live profiles: the odd people unlinked, the even ones merged, person 2 unmerged again');
  t.ok(before.due.length > 0 && Object.values(before.members).every((m) => m.length > 0), 'due entries and members in every segment');

  const dry = await migrateRedisLayout(redis, ns, TENANT, { buckets: BUCKETS, dryRun: true });
  t.same([dry.outcome, dry.profiles, dry.tombstones], ['dry-run', 10, allPids.length - 10], 'a dry run counts live profiles and tombstones');
  t.equal(await redis.exists(tenantKeys(ns, TENANT).layout), 0, 'and writes nothing, not even the marker');

  // The first run stops in the middle (as a killed process would), after checking v1 writes are paused.
  const pausedDuring: boolean[] = [];
  const phases = new Set<MigratePhase>();
  await t.rejects(migrateRedisLayout(redis, ns, TENANT, {
    buckets: BUCKETS, graceMs: 0,
    progress: async (phase) => {
      if (phase === 'profiles' && !phases.has(phase)) pausedDuring.push(await v1Refused('during'));
      phases.add(phase);
      if (phase === 'identifiers') throw new Error('interrupted');
    },
  }), { message: 'interrupted' });
  t.same(pausedDuring, [true], 'during the copy a v1 write answers paused');
  t.same(await redis.hgetall(tenantKeys(ns, TENANT).layout), { layout: 'tenant', version: '1', buckets: String(BUCKETS), state: 'migrating' }, 'the interrupted tenant stays migrating');
  t.ok(await v1Refused('between'), 'and paused');

  const report = await migrateRedisLayout(redis, ns, TENANT, { buckets: 64, graceMs: 0 });
  t.same(report.problems, [], 'the run again verifies without problems');
  t.same([report.outcome, report.buckets, report.profiles, report.sampled], ['done', BUCKETS, 10, allPids.length], 'done, with the bucket count of the marker, every profile compared');
  t.same(Object.fromEntries(Object.entries(report.segments).map(([s, c]) => [s, c.v1 === c.v2 && c.v1 === (before.members[s]?.length ?? 0)])), { buyers: true, big: true, visitors: true, dropped: true },
    'Σ bucket members = SCARD v1 per segment (none for the deleted one)');
  t.ok(report.dedup.moved >= oldEvents.length, `de-dup entries moved (${report.dedup.moved})`);
  t.same(await redis.hgetall(tenantKeys(ns, TENANT).layout), { layout: 'profile', version: '2', buckets: String(BUCKETS), state: 'done' }, 'the marker says profile, version 2, done');
  t.ok(await v1Refused('after'), 'a v1 write after the migration answers paused too');

  const after = await answers(v2Readers());
  for (const k of Object.keys(before) as (keyof Answers)[]) t.same(after[k], before[k], `v2 answers ${k} as v1 did`);

  const membership = new RedisMembershipStoreV2(redis, ns, BUCKETS);
  t.equal(await membership.indexSize(TENANT), await redis.scard(tenantKeys(ns, TENANT).profiles), 'the bucketed index holds what the v1 index held');
  const sampled = await membership.sampleProfiles(TENANT, 100);
  t.equal(sampled.filter((s) => s.live).length, 10, 'a sample of the index finds the ten live profiles live');

  const apart = await new MergeRunner(redis, ns, { buckets: BUCKETS }).merge(TENANT, { survivor: unmerged.a, loser: unmerged.b, messageId: 'relink' });
  t.same(apart, { status: 'refused', reason: 'unmerged' }, 'the two sides of the v1 unmerge may not merge again on v2');
  const v2 = new RedisProfileStoreV2(redis, ns, TTL);
  const redelivered = await v2.applyEvents(TENANT, oldEvents.slice(0, 4));
  const survivorOf = async (e: PulseEvent): Promise<string | undefined> => v2.resolve(TENANT, e.identifiers);
  t.same(redelivered.map((a) => a.duplicate), [true, true, true, true], 'old events redelivered are duplicates on v2');
  t.same(redelivered.map((a) => a.profileId), await Promise.all(oldEvents.slice(0, 4).map(survivorOf)), 'answered by the live profile');
  const splitSide = await v2.applyEvents(TENANT, oldEvents.filter((e) => e.messageId === 'p2'));
  t.same(splitSide.map((a) => [a.duplicate, a.profileId]), [[true, UNMERGED]], 'an event the unmerge moved is a duplicate on the side it went to');
  const feats = new FeatureStoreV2(redis, ns, TTL);
  const first = oldEvents[1] as PulseEvent;
  await feats.record(TENANT, [{ profileId: redelivered[1]?.profileId ?? '', messageId: first.messageId, event: first.event ?? '', properties: first.properties, at: first.timestamp }], FEATURES, NOW);
  t.same((await answers(v2Readers())).features, before.features, 'a feature redelivered counts nothing again');
  const fresh = await v2.applyEvents(TENANT, [ev('new-1', 0, ['user_id:u-1'], 'Visit')]);
  t.same([fresh[0]?.duplicate, fresh[0]?.profileId], [false, await v2.resolve(TENANT, [parseIdentifierKey('user_id:u-1')])], 'a new event applies on v2 to the migrated profile');

  const again = await migrateRedisLayout(redis, ns, TENANT, { buckets: BUCKETS });
  t.same([again.outcome, again.profiles], ['done', 0], 'a migrated tenant is not migrated again');
  const cleaned = await migrateRedisLayout(redis, ns, TENANT, { buckets: BUCKETS, cleanup: true });
  t.ok(cleaned.removed > allPids.length, `cleanup removed the v1 profile data (${cleaned.removed} keys)`);
  const left: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${tenantKeys(ns, TENANT).prefix}*`, 'COUNT', 1000);
    cursor = next;
    left.push(...keys.map((k) => k.slice(tenantKeys(ns, TENANT).prefix.length)));
  } while (cursor !== '0');
  t.same(left.filter((k) => /^(p:|id:|sync:|dedup:|applied:|fdedup:|fc:|fcimp:|seg:|due$|profiles$)/.test(k)), [], 'no v1 profile data is left');
  t.ok(['segments', 'segnames', 'layout', 'catalog_v'].every((k) => left.includes(k)), `config stays (${left.sort().join(', ')})`);
  const cleanedAnswers = await answers(v2Readers());
  t.same({ ...cleanedAnswers, views: undefined, resolved: undefined, features: undefined }, { ...before, views: undefined, resolved: undefined, features: undefined }, 'v2 answers the same without the v1 keys (but for the new event)');
});

void t.test('on a 3-master Redis Cluster the tenant leaves its one master and answers as before', async (t) => {
  const cluster = await startRedisCluster(3);
  const single = redis;
  t.teardown(async () => {
    await redis.quit();
    redis = single;
    await cluster.stop();
  });
  // The helpers above use `redis`: point them at the cluster for this test.
  redis = await connectRedis({ url: cluster.url, cluster: true }, 'migrate-layout-cluster-test');
  await buildV1();
  const before = await answers(v1Readers());
  const report = await migrateRedisLayout(redis, ns, TENANT, { buckets: BUCKETS, graceMs: 0, cleanup: true });
  t.same([report.outcome, report.problems], ['done', []], 'migrated and verified on the cluster');
  t.ok(report.removed > allPids.length, 'the v1 keys cleaned up');
  const after = await answers(v2Readers());
  for (const k of Object.keys(before) as (keyof Answers)[]) t.same(after[k], before[k], `v2 answers ${k} as v1 did`);
  const masters = new Set(await Promise.all(allPids.map((pid) => cluster.masterOf(profileKeys(ns, TENANT, pid).hash))));
  t.ok(masters.size >= 2, `the profiles now live on ${masters.size} masters`);
});
