import t from 'tap';
import type { PulseEvent } from '../../src/collection/event.ts';
import type { Identifier } from '../../src/identity/identifier.ts';
import { connectRedis, type RedisClient } from '../../src/infra/redis.ts';
import { tenantKeys } from '../../src/profiles/keys.ts';
import { RedisProfileStore } from '../../src/profiles/profile.redis.ts';
import { cleanupNamespace, REDIS_URL, uniqueNamespace } from '../support/env.ts';
import { segMembers } from '../support/keys.ts';

const ns = uniqueNamespace('ident');
let redis: RedisClient;

t.before(async () => {
  redis = await connectRedis(REDIS_URL, 'identity-test');
});

t.teardown(async () => {
  await redis.quit();
  await cleanupNamespace(ns);
});

let seq = 0;
function ev(ids: Identifier[], over: Partial<PulseEvent> = {}): PulseEvent {
  seq++;
  return {
    type: 'track', messageId: `m${seq}`, timestamp: 1_700_000_000_000 + seq * 1000, userId: undefined, anonymousId: undefined,
    event: 'Viewed', properties: {}, traits: {}, context: {}, identifiers: ids, extra: {}, ...over,
  };
}
const uid = (id: string): Identifier => ({ type: 'user_id', id });
const anon = (id: string): Identifier => ({ type: 'anonymous_id', id });

void t.test('an event carrying identifiers of two profiles merges them into the older one', async (t) => {
  const store = new RedisProfileStore(redis, ns, 3600);
  const tenant = 'merge';
  const keys = tenantKeys(ns, tenant);
  const [older] = await store.applyEvents(tenant, [ev([anon('a1')], { traits: { plan: 'free', city: 'Paris' }, timestamp: 1_000 })]);
  const [newer] = await store.applyEvents(tenant, [ev([uid('u1')], { traits: { plan: 'pro' }, timestamp: 2_000 })]);
  t.ok(older && newer && older.profileId !== newer.profileId, 'two profiles before the link');
  if (older === undefined || newer === undefined) return;

  // The features and segments stores' keys of the newer profile: a merge must move or clear them.
  await redis.zadd(keys.profile(newer.profileId).feature('feat1'), 2_000, 'mX', 2_500, 'mY');
  await redis.zadd(keys.profile(older.profileId).feature('feat1'), 1_000, 'mZ', 2_000, 'mX');
  await redis.sadd(keys.profile(newer.profileId).fkeys, 'feat1');
  await redis.sadd(keys.profile(older.profileId).fkeys, 'feat1');
  await redis.pexpire(keys.profile(newer.profileId).feature('feat1'), 600_000);
  await redis.hset(keys.profile(newer.profileId).ftotals, { 'feat1|c': 2, 'feat1|s': 2.5, 'feat1|mn': 1, 'feat1|mx': 1.5, 'feat1|f': 2_000, 'feat1|l': 2_500 });
  await redis.hset(keys.profile(older.profileId).ftotals, { 'feat1|c': 3, 'feat1|s': 10, 'feat1|mn': 2, 'feat1|mx': 5, 'feat1|f': 1_000, 'feat1|l': 2_000 });
  await redis.sadd(keys.profile(newer.profileId).segs, 'buyers');
  await redis.sadd(keys.segMembers('buyers'), newer.profileId, 'someone-else');

  const linkEvent = ev([uid('u1'), anon('a1')], { type: 'identify', event: '', timestamp: 3_000, traits: { email_opt_in: true } });
  const [link] = await store.applyEvents(tenant, [linkEvent]);
  t.equal(link?.profileId, older.profileId, 'the older profile survives');
  t.same(link?.merges, [{ survivor: older.profileId, merged: newer.profileId, identifiers: [uid('u1')] }], 'the merge is returned');
  t.same(link?.refused, []);

  const p = await store.get(tenant, older.profileId);
  t.same(p?.identifiers, [anon('a1'), uid('u1')]);
  t.same(p?.traits, { plan: 'pro', city: 'Paris', email_opt_in: true }, 'traits merged by event time');
  t.same(p?.eventCounts, { Viewed: 2, $identify: 1 }, 'counts summed');
  t.equal(p?.firstSeen, 1_000);
  t.equal(p?.lastSeen, 3_000);
  t.same(await store.get(tenant, newer.profileId), p, 'a merged-away id reads as its survivor');
  t.same(await store.resolve(tenant, [uid('u1')]), older.profileId, 'the identifier now points to the survivor');
  t.same(await redis.zrange(keys.profile(older.profileId).feature('feat1'), 0, -1, 'WITHSCORES'), ['mZ', '1000', 'mX', '2000', 'mY', '2500'], 'feature zsets united');
  t.equal(await redis.exists(keys.profile(newer.profileId).feature('feat1')), 0, 'the loser keeps no feature zset');
  t.equal(await redis.pttl(keys.profile(older.profileId).feature('feat1')), -1, 'a zset without expiry keeps none');
  t.same(await redis.hgetall(keys.profile(older.profileId).ftotals), { 'feat1|c': '5', 'feat1|s': '12.5', 'feat1|mn': '1', 'feat1|mx': '5', 'feat1|f': '1000', 'feat1|l': '2500' }, 'feature totals combined');
  t.same(await segMembers(redis, ns, tenant, 'buyers'), ['someone-else'], 'the loser left its segments');
  t.same(await redis.hgetall(keys.profile(newer.profileId).hash), { merged_into: older.profileId }, 'the loser is a tombstone');

  const [dup] = await store.applyEvents(tenant, [{ ...ev([uid('u1')]), messageId: 'm2' }]);
  t.same(dup, { profileId: older.profileId, version: p?.version, duplicate: true, traitChanges: [{ trait: 'plan', value: 'pro' }], merges: [], refused: [] },
    'a redelivered event resolves to the survivor and returns what it changed, for the processor to record again');
  const [relink] = await store.applyEvents(tenant, [linkEvent]);
  t.same(relink?.merges, link?.merges, 'a redelivered merging event returns its merge again');
});

void t.test('a third profile joins through any identifier; chains end in one profile', async (t) => {
  const store = new RedisProfileStore(redis, ns, 3600);
  const tenant = 'chain';
  await store.applyEvents(tenant, [ev([anon('x1')], { timestamp: 5_000 }), ev([anon('x2')], { timestamp: 4_000 }), ev([anon('x3')], { timestamp: 6_000 })]);
  const [r] = await store.applyEvents(tenant, [ev([uid('u'), anon('x1'), anon('x2'), anon('x3')], { timestamp: 7_000 })]);
  t.equal(r?.merges.length, 2, 'two merges in one event');
  const x2 = await store.resolve(tenant, [anon('x2')]);
  t.equal(r?.profileId, x2, 'the oldest profile (created by the earliest event) survives');
  const p = await store.get(tenant, r?.profileId ?? '');
  t.same(p?.identifiers.map((i) => i.id), ['x1', 'x2', 'x3', 'u']);
  t.same(p?.eventCounts, { Viewed: 4 });
});

void t.test('a merged feature zset keeps the longer expiry of the two', async (t) => {
  const store = new RedisProfileStore(redis, ns, 3600);
  const tenant = 'ttl';
  const keys = tenantKeys(ns, tenant);
  const [a] = await store.applyEvents(tenant, [ev([anon('t1')], { timestamp: 1_000 })]);
  const [b] = await store.applyEvents(tenant, [ev([anon('t2')], { timestamp: 2_000 })]);
  for (const [r, ttl] of [[a, 100_000], [b, 300_000]] as const) {
    await redis.zadd(keys.profile(r?.profileId ?? '').feature('w'), 1, `m-${ttl}`);
    await redis.pexpire(keys.profile(r?.profileId ?? '').feature('w'), ttl);
    await redis.sadd(keys.profile(r?.profileId ?? '').fkeys, 'w');
  }
  await store.applyEvents(tenant, [ev([anon('t1'), anon('t2')])]);
  const ttl = await redis.pttl(keys.profile(a?.profileId ?? '').feature('w'));
  t.ok(ttl > 200_000 && ttl <= 300_000, `expiry ${ttl} ms`);
  t.equal(await redis.zcard(keys.profile(a?.profileId ?? '').feature('w')), 2);
});

void t.test('guardrails: a second user_id is refused, the event goes to its highest-priority identifier', async (t) => {
  const store = new RedisProfileStore(redis, ns, 3600);
  const tenant = 'guard';
  const [alice] = await store.applyEvents(tenant, [ev([uid('alice'), anon('shared-device')], { traits: { name: 'Alice' } })]);
  const [bob] = await store.applyEvents(tenant, [ev([uid('bob'), anon('shared-device')], { traits: { name: 'Bob' } })]);
  t.not(bob?.profileId, alice?.profileId, 'bob gets his own profile');
  t.same(bob?.merges, []);
  t.same(bob?.refused, [{ reason: 'limit user_id 1', identifier: anon('shared-device'), other: alice?.profileId }]);
  const a = await store.get(tenant, alice?.profileId ?? '');
  const b = await store.get(tenant, bob?.profileId ?? '');
  t.same(a?.identifiers, [anon('shared-device'), uid('alice')], 'the device stays with alice');
  t.same(b?.identifiers, [uid('bob')]);
  t.same(b?.traits, { name: 'Bob' });
  t.same(a?.traits, { name: 'Alice' });
  const refused = await store.refusedMerges(tenant, 10);
  t.equal(refused.length, 1);
  t.match(refused[0], { reason: 'limit user_id 1', identifier: 'anonymous_id:shared-device', other: alice?.profileId, profile: bob?.profileId });

  const capped = new RedisProfileStore(redis, ns, 3600, { limits: { perType: { user_id: 1, email_sha256: 1 }, maxIdentifiers: 3 } });
  const [c] = await capped.applyEvents('cap', [ev([uid('c'), anon('c1'), anon('c2'), anon('c3')])]);
  t.same(c?.refused.map((r) => [r.reason, r.identifier.id]), [['max_identifiers 3', 'c3']], 'the identifier beyond the maximum is not linked');
  const [d] = await capped.applyEvents('cap', [ev([uid('c'), { type: 'email_sha256', id: 'a'.repeat(64) }, { type: 'email_sha256', id: 'b'.repeat(64) }])]);
  t.same(d?.refused.map((r) => r.reason), ['max_identifiers 3', 'max_identifiers 3'], 'a full profile takes no identifier');
  const [e] = await capped.applyEvents('cap', [ev([uid('e'), { type: 'email_sha256', id: 'a'.repeat(64) }, { type: 'email_sha256', id: 'b'.repeat(64) }])]);
  t.same(e?.refused.map((r) => [r.reason, r.identifier.id]), [['limit email_sha256 1', 'b'.repeat(64)]], 'per-type limits from the configuration');
});

void t.test('concurrent applies from many connections end in one profile per person with exact counts', async (t) => {
  const tenant = 'race';
  const people = 40;
  const devices = 4;
  const perDevice = 5;
  const events: PulseEvent[] = [];
  for (let p = 0; p < people; p++) {
    for (let d = 0; d < devices; d++) {
      // Every device of a person sends anonymous events and one linking event with the user id.
      for (let k = 0; k < perDevice; k++) events.push(ev([anon(`p${p}-d${d}`)], { event: 'Seen' }));
      events.push(ev([uid(`p${p}`), anon(`p${p}-d${d}`)], { event: 'Login' }));
    }
  }
  for (let i = events.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [events[i], events[j]] = [events[j] as PulseEvent, events[i] as PulseEvent];
  }
  const workers = 8;
  const conns = await Promise.all(Array.from({ length: workers }, () => connectRedis(REDIS_URL, 'identity-race')));
  try {
    const stores = conns.map((c) => new RedisProfileStore(c, ns, 3600));
    const chunks = Array.from({ length: workers }, (_, w) => events.filter((_, i) => i % workers === w));
    // Each worker applies its share in small batches, all at once, like processors on one consumer.
    await Promise.all(chunks.map(async (chunk, w) => {
      for (let i = 0; i < chunk.length; i += 7) await stores[w]?.applyEvents(tenant, chunk.slice(i, i + 7));
    }));
    // Redelivery of everything by another worker changes nothing.
    const again = await stores[0]?.applyEvents(tenant, events);
    t.ok(again?.every((r) => r.duplicate), 'every event applied once');
    const store = stores[0];
    if (store === undefined) return;
    for (let p = 0; p < people; p++) {
      const ids = await Promise.all(Array.from({ length: devices }, (_, d) => store.resolve(tenant, [anon(`p${p}-d${d}`)])));
      const pid = await store.resolve(tenant, [uid(`p${p}`)]);
      if (!ids.every((x) => x === pid)) t.fail(`person ${p} is split over ${new Set(ids).size} profiles`);
      const profile = await store.get(tenant, pid ?? '');
      t.same(profile?.eventCounts, { Seen: devices * perDevice, Login: devices }, `person ${p}: exact counts`);
      t.equal(profile?.identifiers.length, devices + 1);
    }
  } finally {
    await Promise.all(conns.map((c) => c.quit()));
  }
});
