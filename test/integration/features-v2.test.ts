import { randomUUID } from 'node:crypto';
import t from 'tap';
import { CONSENT_TRAIT } from '../../src/collection/normalize.ts';
import type { PulseEvent } from '../../src/collection/event.ts';
import { parseIdentifierKey } from '../../src/identity/identifier.ts';
import { connectRedis, type RedisClient } from '../../src/infra/redis.ts';
import type { JsonObject } from '../../src/json.ts';
import { isOlder } from '../../src/profiles/identity-plan.ts';
import { profileKeys, tenantKeys, type ProfileKeys } from '../../src/profiles/keys.ts';
import { MergeRunner } from '../../src/profiles/merge.redis.ts';
import { profileSlotScript } from '../../src/profiles/profile-slot.ts';
import { orderToken } from '../../src/profiles/model.ts';
import { RedisProfileStoreV2 } from '../../src/profiles/profile-v2.redis.ts';
import { features, type EventFeature } from '../../src/segments/features.ts';
import { FeatureStoreV2, followMoved } from '../../src/segments/features-v2.redis.ts';
import { RedisFeatureStore } from '../../src/segments/features.redis.ts';
import { parseRuleText } from '../../src/segments/rule-text.ts';
import type { FeatureEvent } from '../../src/segments/store.ts';
import { cleanupNamespace, REDIS_URL, uniqueNamespace } from '../support/env.ts';
import { random } from '../support/openrtb-mutations.ts';

/*
 * Features on the per-profile layout (src/profiles/per-profile-layout.md §6, step 7): FeatureStoreV2 must
 * answer what today's RedisFeatureStore answers for the same event sequences (windows, totals,
 * redeliveries), keep its de-duplication in `:seen`, and follow `moved` from a profile that is
 * being or was merged away. Also record-refusal-v2.lua, the other profile-slot script of step 7.
 */

const ns1 = uniqueNamespace('fv1');
const ns2 = uniqueNamespace('fv2');
const TTL = 3600;
const MIN = 60_000;
const HOUR = 60 * MIN;
let redis: RedisClient;

t.before(async () => {
  redis = await connectRedis(REDIS_URL, 'features-v2-test');
});

t.teardown(async () => {
  await redis.quit();
  await cleanupNamespace(ns1);
  await cleanupNamespace(ns2);
});

const RULES = [
  'sum(Purchase.revenue where currency = "EUR") in last 1 hours >= 100',
  'count(Visit) in last 10 minutes >= 1',
  'sum(Purchase.revenue) >= 1000',
  'count(Order) in last 60 minutes > 0 and count(Order) from "2024-01-01" to "2030-01-01" > 0',
];
const FEATURES: EventFeature[] = features(...RULES.map((r) => parseRuleText(r)));

function featureEvent(pid: string, messageId: string, at: number, rnd: () => number): FeatureEvent {
  const kind = ['Purchase', 'Purchase', 'Visit', 'Order', 'Other'][Math.floor(rnd() * 5)] ?? 'Other';
  const revenue = [12.5, 60, 100, 0.25, '70', undefined, -3][Math.floor(rnd() * 7)];
  const properties: JsonObject = { currency: rnd() < 0.7 ? 'EUR' : 'USD' };
  if (revenue !== undefined) properties['revenue'] = revenue;
  return { profileId: pid, messageId, event: kind, properties, at };
}

/** A profile's stored features, independent of the layout (expiries as present or not). */
async function stored(pk: ProfileKeys): Promise<JsonObject> {
  const fkeys = (await redis.smembers(pk.fkeys)).sort();
  const zsets: JsonObject = {};
  for (const fid of fkeys) zsets[fid] = { z: await redis.zrange(pk.feature(fid), 0, -1, 'WITHSCORES'), expires: await redis.pttl(pk.feature(fid)) > 0 };
  return { fkeys, zsets, ftotals: await redis.hgetall(pk.ftotals) };
}

void t.test('v1 and v2 record and read the same windows and totals for the same event sequences, redeliveries included', async (t) => {
  const v1 = new RedisFeatureStore(redis, ns1, TTL);
  const v2 = new FeatureStoreV2(redis, ns2, TTL);
  const had = new Set<string>();
  for (const seed of [1, 2, 3]) {
    const rnd = random(seed);
    const tenant = `eq${seed}`;
    const pids = [randomUUID(), randomUUID(), randomUUID()];
    let now = Date.parse('2026-06-01T12:00:00Z');
    const sent: FeatureEvent[] = [];
    for (let batch = 0; batch < 8; batch++) {
      const events: FeatureEvent[] = [];
      for (let k = 0; k < 6; k++) {
        const pid = pids[Math.floor(rnd() * pids.length)] ?? '';
        // Mostly recent, some older than every window, some just inside the slack.
        const age = [MIN, 9 * MIN, 30 * MIN, 59 * MIN, 64 * MIN, 3 * HOUR, 400 * 24 * HOUR][Math.floor(rnd() * 7)] ?? 0;
        events.push(featureEvent(pid, `s${seed}-b${batch}-${k}`, now - age, rnd));
      }
      // Redeliveries: a few earlier events again, and the batch itself twice now and then.
      const again = sent.filter(() => rnd() < 0.2);
      const batchOf = [...events, ...again, ...(rnd() < 0.3 ? events : [])];
      await v1.record(tenant, batchOf, FEATURES, now);
      await v2.record(tenant, batchOf, FEATURES, now);
      sent.push(...events);
      const ids = [...pids, randomUUID()];
      for (const at of [now, now + 5 * MIN, now + 55 * MIN]) {
        const want = await v1.read(tenant, ids, FEATURES, at);
        t.same(await v2.read(tenant, ids, FEATURES, at), want, `seed ${seed} batch ${batch}: the same read at +${(at - now) / MIN} min`);
        for (const m of want.values()) for (const id of m.keys()) had.add(id);
      }
      now += 20 * MIN;
    }
    for (const pid of pids) {
      t.same(await stored(profileKeys(ns2, tenant, pid)), await stored(tenantKeys(ns1, tenant).profile(pid)), `seed ${seed}: the same zsets, totals and expiries`);
    }
  }
  t.same([...had].sort(), FEATURES.map((f) => f.id).sort(), 'every feature had data in some read, so the reads compared are not all empty');
});

void t.test('v2 de-duplicates totals with `f|<messageId>` in the profile\'s :seen, kept for the event de-dup TTL; no fdedup key', async (t) => {
  const v2 = new FeatureStoreV2(redis, ns2, TTL);
  const [lifetime, visits] = [features(parseRuleText('sum(Purchase.revenue) >= 1000'))[0], features(parseRuleText('count(Visit) in last 10 minutes >= 1'))[0]];
  if (lifetime === undefined || visits === undefined) throw new Error('features missing');
  const pid = randomUUID();
  const pk = profileKeys(ns2, 'dd', pid);
  const now = Date.now();
  const purchase = (messageId: string, revenue: number): FeatureEvent => ({ profileId: pid, messageId, event: 'Purchase', properties: { revenue }, at: now - MIN });
  const total = async () => (await v2.read('dd', [pid], [lifetime], now)).get(pid)?.get(lifetime.id)?.total;
  await redis.zadd(pk.seen, now - 1000, 'f|old', now + 50_000, 'other', now - 1000, 'f|p-2');
  await v2.record('dd', [{ profileId: pid, messageId: 'v-1', event: 'Visit', properties: {}, at: now - MIN }], [lifetime, visits], now);
  t.same(await redis.zrange(pk.seen, 0, -1), ['f|old', 'f|p-2', 'other'], 'an event with no total feature leaves :seen alone');

  await v2.record('dd', [purchase('p-1', 10), purchase('p-1', 10)], [lifetime, visits], now);
  await v2.record('dd', [purchase('p-1', 10)], [lifetime, visits], now);
  t.same((await total())?.count, 1, 'a redelivery is not counted again');
  const score = Number(await redis.zscore(pk.seen, 'f|p-1'));
  t.ok(score > now + (TTL - 60) * 1000 && score <= Date.now() + TTL * 1000, 'f|p-1 lapses one de-dup TTL from now');
  t.same(await redis.zrange(pk.seen, 0, -1), ['other', 'f|p-1'], 'expired members are trimmed as apply-profile.lua trims them');
  const pttl = await redis.pttl(pk.seen);
  t.ok(pttl > (TTL - 60) * 1000 && pttl <= TTL * 1000, ':seen lapses with its newest member');

  await v2.record('dd', [purchase('p-2', 5)], [lifetime, visits], now);
  t.same(await total(), { count: 2, sum: 15, min: 5, max: 10, first: now - MIN, last: now - MIN }, 'a member past its score no longer guards (as an expired fdedup key)');
  t.same(await redis.keys(`${ns2}:*fdedup*`), [], 'no fdedup keys on the per-profile layout');
});

const BASE = 1_760_000_000_000;

function ev(mid: string, ts: number, ids: string[]): PulseEvent {
  return {
    type: 'track', messageId: mid, timestamp: BASE + ts * 1000, userId: undefined, anonymousId: undefined,
    event: 'Viewed', properties: {}, traits: {}, context: {}, identifiers: ids.map(parseIdentifierKey), extra: {},
  };
}

/** Two live profiles of one person on the per-profile layout (the user's the older), not linked yet. */
async function pair(tenant: string): Promise<{ survivor: string; loser: string; runner: (crashAfter?: string) => MergeRunner }> {
  const store = new RedisProfileStoreV2(redis, ns2, TTL);
  const [u] = await store.applyEvents(tenant, [ev(`${tenant}-u`, 10, ['user_id:u-1'])]);
  const [a] = await store.applyEvents(tenant, [ev(`${tenant}-a`, 20, ['anonymous_id:a-1'])]);
  if (u === undefined || a === undefined) throw new Error('profiles missing');
  const created = async (pid: string) => Number(await redis.hget(profileKeys(ns2, tenant, pid).hash, 'created'));
  const uOlder = isOlder({ pid: u.profileId, created: await created(u.profileId) }, { pid: a.profileId, created: await created(a.profileId) });
  if (!uOlder) throw new Error('the user profile should be the older');
  return {
    survivor: u.profileId,
    loser: a.profileId,
    runner: (crashAfter) => new MergeRunner(redis, ns2, { buckets: 8, afterStep: (s) => { if (s === crashAfter) throw new Error(`crash after ${s}`); } }),
  };
}

void t.test('occurrences of a profile being merged away, or merged away, are recorded on the survivor once', async (t) => {
  const v1 = new RedisFeatureStore(redis, ns1, TTL);
  const v2 = new FeatureStoreV2(redis, ns2, TTL);
  const { survivor: s, loser: l, runner } = await pair('mv');
  const now = Date.parse('2026-06-01T12:00:00Z');
  const purchase = (pid: string, messageId: string, revenue: number, ago: number): FeatureEvent => ({
    profileId: pid, messageId, event: 'Purchase', properties: { revenue, currency: 'EUR' }, at: now - ago,
  });
  // What v2 is sent, profile by profile as the processor resolved each event; v1 gets every event on one profile.
  const steps: FeatureEvent[][] = [];
  const send = async (events: FeatureEvent[]) => {
    steps.push(events);
    await v2.record('mv', events, FEATURES, now);
  };
  await send([purchase(s, 's-1', 40, 30 * MIN), purchase(l, 'l-1', 60, 20 * MIN)]);

  // Crash after the freeze: L is frozen into S, not absorbed.
  await t.rejects(runner('M2').merge('mv', { survivor: s, loser: l, messageId: 'link' }));
  t.equal(await redis.hget(profileKeys(ns2, 'mv', l).hash, 'state'), 'frozen');
  const frozenBefore = await stored(profileKeys(ns2, 'mv', l));
  await send([purchase(l, 'l-1', 60, 20 * MIN), purchase(l, 'l-2', 7, 10 * MIN)]);
  t.same(await stored(profileKeys(ns2, 'mv', l)), frozenBefore, 'nothing is written on the frozen profile');
  t.ok(await redis.zscore(profileKeys(ns2, 'mv', s).seen, 'f|l-2'), 'the event new to L went to S');
  t.equal(await redis.zscore(profileKeys(ns2, 'mv', s).seen, 'f|l-1'), null, 'the one L recorded before its freeze did not (the absorb brings it)');

  t.equal((await runner().completeMerge('mv', l)).status, 'finished');
  t.equal(await redis.hget(profileKeys(ns2, 'mv', l).hash, 'state'), 'merged', 'L is a tombstone');
  await send([purchase(l, 'l-1', 60, 20 * MIN), purchase(l, 'l-2', 7, 10 * MIN), purchase(l, 'l-3', 3, 5 * MIN), purchase(s, 's-1', 40, 30 * MIN)]);
  t.same(await redis.keys(`${profileKeys(ns2, 'mv', l).prefix}*`), [profileKeys(ns2, 'mv', l).hash], 'nothing is written under the tombstone');

  const one = randomUUID();
  for (const events of steps) await v1.record('mv', events.map((e) => ({ ...e, profileId: one })), FEATURES, now);
  t.same((await v2.read('mv', [s], FEATURES, now)).get(s), (await v1.read('mv', [one], FEATURES, now)).get(one), 'the survivor reads as today\'s store does with every event on one profile');
  t.same((await v2.read('mv', [s], FEATURES, now)).get(s)?.get(FEATURES[2]?.id ?? '')?.total.count, 4, 'four purchases, each counted once');
});

void t.test('followMoved gives up on a cycle of tombstones', async (t) => {
  const [a, b] = [randomUUID(), randomUUID()];
  await redis.hset(profileKeys(ns2, 'cy', a).hash, 'state', 'merged', 'into', b);
  await redis.hset(profileKeys(ns2, 'cy', b).hash, 'state', 'merged', 'into', a);
  const v2 = new FeatureStoreV2(redis, ns2, TTL);
  await t.rejects(v2.record('cy', [{ profileId: a, messageId: 'c-1', event: 'Visit', properties: {}, at: Date.now() }], FEATURES, Date.now()), /moved more than 64 times/);
});

void t.test('record-refusal-v2.lua: last write wins on a live profile, moved on a frozen or merged one, nothing on an unborn one', async (t) => {
  const refusal = profileSlotScript(redis, 'pulseRecordRefusalV2', new URL('../../src/privacy/record-refusal-v2.lua', import.meta.url));
  const { survivor: s, loser: l, runner } = await pair('cr');
  const token = (ts: number, mid: string) => orderToken(ev(mid, ts, []));
  const record = (pid: string, order: string, value: JsonObject) =>
    followMoved(pid, (at) => refusal.run([profileKeys(ns2, 'cr', at).prefix], [order, CONSENT_TRAIT, JSON.stringify(value)]));
  const consentOf = async (pid: string) => redis.hget(profileKeys(ns2, 'cr', pid).traits, CONSENT_TRAIT);

  t.same(await record(s, token(30, 'r-1'), { ads: false }), { pid: s, answer: [s, 1] }, 'recorded and changed');
  t.same(await record(s, token(25, 'r-0'), { ads: true }), { pid: s, answer: [s, 0] }, 'an older refusal does not win');
  t.same(await record(s, token(31, 'r-2'), { ads: false }), { pid: s, answer: [s, 0] }, 'the same value again is no change');
  t.equal(await consentOf(s), JSON.stringify({ ads: false }));

  await t.rejects(runner('M2').merge('cr', { survivor: s, loser: l, messageId: 'link' }));
  t.same(await record(l, token(40, 'r-3'), { ads: true, analytics: false }), { pid: s, answer: [s, 1] }, 'a frozen profile sends it to its survivor');
  t.equal(await consentOf(l), null, 'not written on the frozen profile');
  t.equal((await runner().completeMerge('cr', l)).status, 'finished');
  t.same(await record(l, token(41, 'r-4'), { ads: false }), { pid: s, answer: [s, 1] }, 'a tombstone sends it to its survivor');
  t.equal(await consentOf(s), JSON.stringify({ ads: false }));
  const nobody = randomUUID();
  t.same(await record(nobody, token(50, 'r-5'), { ads: false }), { pid: nobody, answer: null }, 'a profile never born gets no refusal');
  t.equal(await redis.exists(profileKeys(ns2, 'cr', nobody).traits), 0, 'and no keys');
});
