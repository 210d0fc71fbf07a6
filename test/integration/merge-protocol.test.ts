import t, { type Test } from 'tap';
import type { PulseEvent } from '../../src/collection/event.ts';
import { identifierKey, parseIdentifierKey, type Identifier } from '../../src/identity/identifier.ts';
import { connectRedis, type RedisClient, type Script } from '../../src/infra/redis.ts';
import type { JsonObject } from '../../src/json.ts';
import { isOlder } from '../../src/profiles/identity-plan.ts';
import { identifierOwner, profileKeys, tenantKeys, type ProfileKeys } from '../../src/profiles/keys.ts';
import { MergeRunner, type MergeOutcome, type MergeRunnerOptions, type MergeStep } from '../../src/profiles/merge.redis.ts';
import type { Applied, Merge } from '../../src/profiles/model.ts';
import { limitArgs, policyFor, type IdentityLimits } from '../../src/profiles/policy.ts';
import { applyProfileArgs, applyProfileScript, readApplyProfile, RedisProfileStoreV2 } from '../../src/profiles/profile-v2.redis.ts';
import { RedisProfileStore } from '../../src/profiles/profile.redis.ts';
import { cleanupNamespace, REDIS_URL, uniqueNamespace } from '../support/env.ts';
import { startRedisCluster } from '../support/redis-cluster.ts';
import { everyPolicy } from '../support/policies.ts';

/*
 * The cross-slot merge protocol (src/profiles/per-profile-layout.md §3, step 5) on its own: two profiles built
 * by the per-profile store are merged by MergeRunner, and the survivor must hold what today's store
 * (apply-event.lua, which merges in one atomic script) holds after the same events. Then: each step
 * run twice, a crash after each step with completeMerge (and the event redelivered) after it, two
 * runners racing, refused merges.
 */

const ns1 = uniqueNamespace('mrg1');
const ns2 = uniqueNamespace('mrg2');
let redis: RedisClient;
let apply: Script;

t.before(async () => {
  redis = await connectRedis(REDIS_URL, 'merge-protocol-test');
  apply = applyProfileScript(redis);
});

t.teardown(async () => {
  await redis.quit();
  await cleanupNamespace(ns1);
  await cleanupNamespace(ns2);
});

const policies = everyPolicy();
const LIMITS: IdentityLimits = { perType: { user_id: 1 }, maxIdentifiers: 100 };
const TTL = 3600;
const BUCKETS = 8;

const i = (key: string): Identifier => parseIdentifierKey(key);

function ev(mid: string, ts: number, ids: string[], traits: JsonObject, name = 'Viewed', source = 'web', props: JsonObject = {}): PulseEvent {
  return {
    type: 'track', messageId: mid, timestamp: 1_760_000_000_000 + ts * 1000, userId: undefined, anonymousId: undefined,
    event: name, properties: props, traits, context: { source }, identifiers: ids.map(i), extra: {},
  };
}

/** Person A as an anonymous device and as a signed-in user, before anything links the two; then the linking event. */
function person(p: string): { anon: PulseEvent[]; user: PulseEvent[]; link: PulseEvent; link2: PulseEvent } {
  const a = `anonymous_id:a-${p}`;
  const u = `user_id:u-${p}`;
  return {
    anon: [
      ev(`${p}-a1`, 20, [a, `cookie:c-${p}`], { plan: 'free', signup: 'ads', name: 'Anon', score: 10, price: 50, tags: ['a'], visits: 1 }, 'Bought', 'crm', { amount: 10, color: 'red' }),
      ev(`${p}-a2`, 40, [a], { plan: 'team', score: 70, tags: ['b'], visits: 0.5 }, 'Viewed', 'web', { color: 'red' }),
    ],
    user: [
      ev(`${p}-u1`, 10, [u], { plan: 'pro', signup: 'mail', name: 'User', score: 30, price: 20, tags: ['c', 'a'], visits: 2 }, 'Bought', 'web', { amount: 5.5, color: 'blue' }),
      ev(`${p}-u2`, 30, [u, `email_sha256:${'e'.repeat(63)}${p.length}`], { price: 90, visits: 1 }, 'Clicked', 'web', { color: 'blue' }),
    ],
    link: ev(`${p}-l1`, 50, [u, a], { plan: 'enterprise', tags: ['d'] }, 'Viewed', 'web', { color: 'green' }),
    link2: ev(`${p}-l2`, 51, [a, u], { score: 80 }, 'Viewed', 'web', {}),
  };
}

/** Features and frequency zsets seeded on a profile, the same on both layouts (the v2 stores for them are step 7). */
async function seedFeatures(pk: ProfileKeys, fc: (target: string) => string, side: 'anon' | 'user'): Promise<void> {
  const ttl = side === 'anon' ? 500_000 : 900_000;
  await redis.zadd(pk.feature('f1'), 1, `${side}-m1`, 2, 'shared');
  await redis.pexpire(pk.feature('f1'), ttl);
  await redis.zadd(pk.feature(`f-${side}`), 3, `${side}-m2`);
  await redis.sadd(pk.fkeys, 'f1', `f-${side}`);
  await redis.hset(pk.ftotals, 'f1|c', side === 'anon' ? 2 : 3, 'f1|s', side === 'anon' ? '1.5' : '2.25', 'f1|mn', side === 'anon' ? 1 : 0.5, 'f1|mx', side === 'anon' ? 9 : 4, 'f1|f', side === 'anon' ? 100 : 50, 'f1|l', side === 'anon' ? 300 : 200);
  await redis.zadd(fc('campaign:k1'), 5, `${side}-imp`);
  await redis.pexpire(fc('campaign:k1'), ttl);
  await redis.sadd(pk.fckeys, 'campaign:k1');
  await redis.pexpire(pk.fckeys, ttl);
}

const v1Fc = (tenant: string, pid: string) => (target: string): string => `${tenantKeys(ns1, tenant).prefix}fc:p:${pid}:${target}`;
const v2Fc = (tenant: string, pid: string) => (target: string): string => `${profileKeys(ns2, tenant, pid).prefix}fc:${target}`;

/** A profile's stored state, independent of the layout (expiries as present or not). */
async function stateOf(pk: ProfileKeys, fc: (target: string) => string): Promise<JsonObject> {
  const [p, ids, traits, tord, counts, computed, ftotals, fkeys, fckeys, nomerge] = await Promise.all([
    redis.hmget(pk.hash, 'created', 'first_seen', 'last_seen', 'version'), redis.smembers(pk.ids), redis.hgetall(pk.traits), redis.hgetall(pk.tord),
    redis.hgetall(pk.counts), redis.hgetall(pk.computed), redis.hgetall(pk.ftotals), redis.smembers(pk.fkeys), redis.smembers(pk.fckeys), redis.smembers(pk.nomerge),
  ]);
  const zsets: JsonObject = {};
  for (const fid of fkeys) zsets[`f:${fid}`] = { z: await redis.zrange(pk.feature(fid), 0, -1, 'WITHSCORES'), expires: await redis.pttl(pk.feature(fid)) > 0 };
  for (const target of fckeys) zsets[`fc:${target}`] = { z: await redis.zrange(fc(target), 0, -1, 'WITHSCORES'), expires: await redis.pttl(fc(target)) > 0 };
  return {
    p: p.map((x) => x ?? null), ids: ids.sort(), traits, tord, counts, computed, ftotals, zsets, fckeysExpire: await redis.pttl(pk.fckeys) > 0, nomerge: nomerge.sort(),
  };
}

const ownerKey = (tenant: string, idf: string): string => identifierOwner(ns2, tenant, i(idf));

/** Today's store: every event, the link merging in apply-event.lua. Returns the survivor's state and the link's answer. */
async function v1Run(tenant: string, p: ReturnType<typeof person>): Promise<{ state: JsonObject; link: Applied }> {
  const store = new RedisProfileStore(redis, ns1, TTL, { policies, limits: LIMITS });
  await store.applyEvents(tenant, [...p.anon, ...p.user]);
  for (const [side, e] of [['anon', p.anon[0]], ['user', p.user[0]]] as const) {
    const pid = await store.resolve(tenant, e?.identifiers ?? []);
    if (pid === undefined) throw new Error('v1 profile missing');
    await seedFeatures(tenantKeys(ns1, tenant).profile(pid), v1Fc(tenant, pid), side);
  }
  const [link] = await store.applyEvents(tenant, [p.link]);
  if (link === undefined || link.merges.length !== 1) throw new Error('v1 did not merge');
  return { state: await stateOf(tenantKeys(ns1, tenant).profile(link.profileId), v1Fc(tenant, link.profileId)), link };
}

interface Built { readonly survivor: string; readonly loser: string; readonly store: RedisProfileStoreV2 }

/** The two profiles on the per-profile layout, built by the v2 store, features seeded; survivor = the older. */
async function v2Build(tenant: string, p: ReturnType<typeof person>): Promise<Built> {
  const store = new RedisProfileStoreV2(redis, ns2, TTL, { policies, limits: LIMITS });
  const [a] = await store.applyEvents(tenant, p.anon);
  const [u] = await store.applyEvents(tenant, p.user);
  if (a === undefined || u === undefined) throw new Error('v2 profiles missing');
  const created = async (pid: string): Promise<number> => Number(await redis.hget(profileKeys(ns2, tenant, pid).hash, 'created'));
  const [ca, cu] = [await created(a.profileId), await created(u.profileId)];
  await seedFeatures(profileKeys(ns2, tenant, a.profileId), v2Fc(tenant, a.profileId), 'anon');
  await seedFeatures(profileKeys(ns2, tenant, u.profileId), v2Fc(tenant, u.profileId), 'user');
  const uOlder = isOlder({ pid: u.profileId, created: cu }, { pid: a.profileId, created: ca });
  return { survivor: uOlder ? u.profileId : a.profileId, loser: uOlder ? a.profileId : u.profileId, store };
}

/** What the processor does after a merge: the triggering event applied on the survivor, the merge in its answer. */
async function applyOn(tenant: string, pid: string, e: PulseEvent, merges: readonly Merge[]): Promise<Applied> {
  const r = readApplyProfile(await apply.run([profileKeys(ns2, tenant, pid).prefix], applyProfileArgs(policyFor(policies, tenant), limitArgs(LIMITS), TTL, {
    event: e, birth: false, via: e.identifiers[0], attach: [], refused: [], merges,
  })));
  if (r.status !== 'new' && r.status !== 'dup') throw new Error(`apply-profile answered ${r.status}`);
  return r.applied;
}

function runner(over: Partial<MergeRunnerOptions> = {}, client: RedisClient = redis): MergeRunner {
  return new MergeRunner(client, ns2, { buckets: BUCKETS, policy: policyFor(policies, 't'), limits: LIMITS, ...over });
}

/** The end state every merge of person `p` must reach; `state` is the survivor's, compared with v1's. */
async function checkMerged(t: Test, tenant: string, b: Built, p: ReturnType<typeof person>, v1: JsonObject, label: string): Promise<void> {
  const lk = profileKeys(ns2, tenant, b.loser);
  t.same(await stateOf(profileKeys(ns2, tenant, b.survivor), v2Fc(tenant, b.survivor)), v1, `${label}: the survivor holds what today's store holds`);
  t.same(await redis.hgetall(lk.hash), { state: 'merged', into: b.survivor, created: await redis.hget(lk.hash, 'created') ?? '' }, `${label}: the loser is a tombstone`);
  // Key by key (KEYS would ask one node of a cluster): every part merge-freeze.lua snapshots.
  const parts = [lk.ids, lk.traits, lk.tord, lk.counts, lk.computed, lk.ftotals, lk.fkeys, lk.fckeys, lk.segs, lk.nomerge, lk.feature('f1'), lk.feature('f-anon'), lk.feature('f-user'),
    lk.merged, lk.absorbing, lk.seen, lk.applied, `${lk.prefix}fc:campaign:k1`];
  t.same((await Promise.all(parts.map((k) => redis.exists(k)))).filter((x) => x === 1), [], `${label}: nothing else is left of the loser`);
  const ids = [...new Set([...p.anon, ...p.user].flatMap((e) => e.identifiers.map(identifierKey)))];
  t.same(await Promise.all(ids.map((idf) => redis.get(ownerKey(tenant, idf)))), ids.map(() => b.survivor), `${label}: every id key points at the survivor`);
  t.equal(await redis.exists(profileKeys(ns2, tenant, b.survivor).absorbing), 0, `${label}: no absorbing entry`);
  t.same(await redis.smembers(profileKeys(ns2, tenant, b.survivor).merged), [b.loser], `${label}: the survivor lists the loser as merged`);
  t.equal(await redis.zcard(runner().journalKey(tenant, b.loser)), 0, `${label}: the journal is empty`);
  const again = await b.store.applyEvents(tenant, [p.anon[0] as PulseEvent, p.user[1] as PulseEvent]);
  t.same(again.map((a) => [a.profileId, a.duplicate]), [[b.survivor, true], [b.survivor, true]], `${label}: events counted on either side are duplicates on the survivor`);
}

/** Runs the merge of a built pair and the link event, as the processor will. */
async function mergeAndApply(tenant: string, b: Built, e: PulseEvent, r: MergeRunner = runner()): Promise<{ outcome: MergeOutcome; applied: Applied }> {
  const outcome = await r.merge(tenant, { survivor: b.survivor, loser: b.loser, messageId: e.messageId });
  if (outcome.status !== 'merged') throw new Error(`merge answered ${outcome.status}`);
  return { outcome, applied: await applyOn(tenant, b.survivor, e, [outcome.merge]) };
}

let n = 0;
const fresh = (): string => `t${++n}`;

/** A fresh tenant with person `name` through today's store and, up to the link, through the v2 store. */
async function setup(name: string): Promise<{ tenant: string; p: ReturnType<typeof person>; v1: { state: JsonObject; link: Applied }; b: Built }> {
  const tenant = fresh();
  const p = person(name);
  const v1 = await v1Run(tenant, p);
  return { tenant, p, v1, b: await v2Build(tenant, p) };
}

/** The test connection with the functions `wrap` replaces (given the property and the bound original). */
function intercept(wrap: (prop: string, f: (...args: unknown[]) => Promise<unknown>) => ((...args: unknown[]) => Promise<unknown>) | undefined): RedisClient {
  return new Proxy(redis, {
    get(target, prop) {
      const v: unknown = Reflect.get(target, prop);
      if (typeof v !== 'function') return v;
      const f = (v as (...args: unknown[]) => Promise<unknown>).bind(target);
      return (typeof prop === 'string' ? wrap(prop, f) : undefined) ?? f;
    },
  });
}

void t.test('a merge across slots ends where today\'s atomic merge does', async (t) => {
  const { tenant, p, v1, b } = await setup('x');
  const published: [Merge, string][] = [];
  const { outcome, applied } = await mergeAndApply(tenant, b, p.link, runner({ publish: async (_t, m, mid) => { published.push([m, mid]); } }));
  t.equal(outcome.status === 'merged' && outcome.first, true, 'this runner made the tombstone');
  t.same(outcome.status === 'merged' ? outcome.merge.identifiers.map(identifierKey) : [], v1.link.merges[0]?.identifiers.map(identifierKey), 'the same identifiers moved');
  t.same(published.map(([m, mid]) => [m.merged, mid]), [[b.loser, p.link.messageId]], 'merge:<L> published once, for the linking event');
  t.same([applied.version, applied.traitChanges, applied.merges.length], [v1.link.version, v1.link.traitChanges, 1], 'the link event\'s answer');
  await checkMerged(t, tenant, b, p, v1.state, 'one run');
  t.same((await b.store.get(tenant, b.loser))?.id, b.survivor, 'reading the loser reads the survivor');
});

void t.test('a snapshot over the chunk size is absorbed in several calls, to the same end state', async (t) => {
  const { tenant, p, v1, b } = await setup('k');
  const modes: string[] = [];
  const counting = intercept((prop, f) => (prop !== 'pulseMergeAbsorb' ? undefined : (...args) => { modes.push(String(args[2])); return f(...args); }));
  await mergeAndApply(tenant, b, p.link, runner({ chunkBytes: 60 }, counting));
  t.ok(modes.length > 3 && modes.slice(0, -1).every((m) => m === 'sets') && modes.at(-1) === 'all', `sets calls, then one all call (${modes.join(' ')})`);
  await checkMerged(t, tenant, b, p, v1.state, 'chunked');
});

void t.test('an identifier of L held by a third profile is reported, not taken; L leaves its bucket\'s indexes', async (t) => {
  const { tenant, p, b } = await setup('o');
  const q = '00000000-0000-8000-8000-000000000001';
  const cookie = p.anon[0]?.identifiers.find((x) => x.type === 'cookie') ?? i('cookie:none');
  t.ok((await redis.smembers(profileKeys(ns2, tenant, b.loser).ids)).includes(identifierKey(cookie)), 'the anonymous side (younger) holds the cookie');
  await redis.sadd(profileKeys(ns2, tenant, b.loser).segs, 'seg1');
  await redis.set(ownerKey(tenant, identifierKey(cookie)), q);
  const gone: [string, readonly string[]][] = [];
  const outcome = await runner({ gone: async (_t, loser, segs) => { gone.push([loser, segs]); } }).merge(tenant, { survivor: b.survivor, loser: b.loser, messageId: p.link.messageId });
  t.same(outcome.status === 'merged' ? outcome.contested : undefined, [{ identifier: cookie, owner: q }], 'the contested identifier is reported');
  t.equal(await redis.get(ownerKey(tenant, identifierKey(cookie))), q, 'and left to its owner');
  t.same(gone, [[b.loser, ['seg1']]], 'gone was called with L\'s segments');
});

void t.test('every step run twice: the same end state, counts once', async (t) => {
  const { tenant, p, v1, b } = await setup('y');
  // Every script and command of the runner is sent twice; the second answer is the one it gets.
  const twice = intercept((prop, f) => (/^pulse(Merge|IdCas)/.test(prop) || ['zadd', 'zrem', 'hdel'].includes(prop) ? async (...args) => { await f(...args); return f(...args); } : undefined));
  const { outcome } = await mergeAndApply(tenant, b, p.link, runner({}, twice));
  t.equal(outcome.status === 'merged' && outcome.first, false, 'the second tombstone call finds one');
  await checkMerged(t, tenant, b, p, v1.state, 'twice');
});

const STEPS: readonly MergeStep[] = ['M0', 'M1', 'M2', 'M3', 'M4', 'M5'];

void t.test('a crash after each step: completeMerge, then the redelivered event, end in the same state', async (t) => {
  for (const step of STEPS) {
    const { tenant, p, v1, b } = await setup(`c${step}`);
    const idsBefore = (await redis.smembers(profileKeys(ns2, tenant, b.survivor).ids)).sort();
    const crashing = runner({ afterStep: (s) => { if (s === step) throw new Error(`crash after ${s}`); } });
    await t.rejects(crashing.merge(tenant, { survivor: b.survivor, loser: b.loser, messageId: p.link.messageId }), { message: `crash after ${step}` });
    const published: [string, string][] = [];
    const sweeper = runner({ leaseMs: 0, publish: async (_t, m, mid) => { published.push([m.merged, mid]); } });
    const done = await sweeper.completeMerge(tenant, b.loser);
    const frozenOrLater = STEPS.indexOf(step) >= STEPS.indexOf('M2');
    t.equal(done.status, frozenOrLater ? 'finished' : 'aborted', `${step}: completeMerge ${frozenOrLater ? 'finishes' : 'takes back'} the merge`);
    if (!frozenOrLater) {
      const sk = profileKeys(ns2, tenant, b.survivor);
      t.same([await redis.hget(profileKeys(ns2, tenant, b.loser).hash, 'state'), await redis.exists(sk.absorbing), (await redis.smembers(sk.ids)).sort()],
        [null, 0, idsBefore], `${step}: both live again, the reserved identifiers taken back`);
      t.equal(await redis.zcard(sweeper.journalKey(tenant, b.loser)), 0, `${step}: the journal is empty`);
    } else {
      t.same(published, [[b.loser, p.link.messageId]], `${step}: the finisher publishes merge:<L> for the linking event`);
    }
    // The event is redelivered: the processor plans the merge again and applies the event.
    await mergeAndApply(tenant, b, p.link);
    await checkMerged(t, tenant, b, p, v1.state, `crash after ${step}`);
  }
});

void t.test('a crash after M1 recovered by the redelivery alone (no sweeper)', async (t) => {
  const { tenant, p, v1, b } = await setup('r');
  await t.rejects(runner({ afterStep: (s) => { if (s === 'M1') throw new Error('crash'); } }).merge(tenant, { survivor: b.survivor, loser: b.loser, messageId: p.link.messageId }));
  t.same(await runner().completeMerge(tenant, b.loser), { status: 'pending' }, 'within its lease the acceptance is left to its driver');
  await mergeAndApply(tenant, b, p.link);
  await checkMerged(t, tenant, b, p, v1.state, 'redelivered');
});

void t.test('an acceptance taken back by the sweeper while its driver goes on: accepted again from the frozen snapshot', async (t) => {
  const { tenant, p, v1, b } = await setup('s');
  const sweeper = runner({ leaseMs: 0 });
  const swept: string[] = [];
  const slow = runner({ afterStep: async (s) => { if (s === 'M1') swept.push((await sweeper.completeMerge(tenant, b.loser)).status); } });
  const { outcome } = await mergeAndApply(tenant, b, p.link, slow);
  t.same(swept, ['aborted'], 'the sweeper took the acceptance back after M1');
  t.equal(outcome.status, 'merged', 'the driver still merged');
  await checkMerged(t, tenant, b, p, v1.state, 'swept');
});

void t.test('the sweeper finishes what a crash left, bucket by bucket; a merge told the planner\'s snapshot of L', async (t) => {
  const { tenant, p, v1, b } = await setup('sw');
  const known = { created: Number(await redis.hget(profileKeys(ns2, tenant, b.loser).hash, 'created')), identifiers: (await redis.smembers(profileKeys(ns2, tenant, b.loser).ids)).map(i), nomerge: [], merged: [] };
  await t.rejects(runner({ afterStep: (s) => { if (s === 'M3') throw new Error('crash'); } }).merge(tenant, { survivor: b.survivor, loser: b.loser, messageId: p.link.messageId, known }));
  t.same(await runner().sweep(tenant), new Map(), 'within the lease the sweeper leaves it');
  const swept = await runner({ leaseMs: 0 }).sweep(tenant);
  t.same([...swept.keys()], [b.loser], 'past the lease it finds the merge in the loser\'s bucket');
  t.equal(swept.get(b.loser)?.status, 'finished', 'and finishes it');
  await applyOn(tenant, b.survivor, p.link, []);
  await checkMerged(t, tenant, b, p, v1.state, 'swept');
});

void t.test('two runners racing the same pair, for two events', async (t) => {
  const { tenant, p, b } = await setup('z');
  const published: string[] = [];
  const publish = async (_t: string, m: Merge): Promise<void> => { published.push(m.merged); };
  const outcomes = await Promise.all([p.link, p.link2].map((e) => runner({ publish }).merge(tenant, { survivor: b.survivor, loser: b.loser, messageId: e.messageId })));
  t.same(outcomes.map((o) => o.status), ['merged', 'merged'], 'both see the merge done');
  t.equal(outcomes.filter((o) => o.status === 'merged' && o.first).length, 1, 'one made the tombstone');
  t.ok(published.length >= 1 && published.every((m) => m === b.loser), 'merge:<L> published (repeats are dropped by JetStream)');
  // Counted once: the survivor holds the sum of both sides.
  const counts = await redis.hgetall(profileKeys(ns2, tenant, b.survivor).counts);
  t.same(counts, { Bought: '2', Viewed: '1', Clicked: '1' }, 'counts added once');
  t.equal(await redis.zcard(runner().journalKey(tenant, b.loser)), 0, 'the journal is empty');
  t.equal(await redis.exists(profileKeys(ns2, tenant, b.survivor).absorbing), 0, 'no absorbing entry');
});

void t.test('runners of two events and an eager sweeper, interleaved: one merge, counted once', async (t) => {
  const swept = new Set<string>();
  for (let round = 0; round < 6; round++) {
    const { tenant, p, v1, b } = await setup(`w${round}`);
    const sweeper = runner({ leaseMs: 0 });
    let running = true;
    const sweeping = (async () => {
      while (running) {
        swept.add((await sweeper.completeMerge(tenant, b.loser)).status);
        await new Promise((r) => setImmediate(r));
      }
    })();
    // Each step of a runner may yield for a moment, so the three interleave differently each round.
    const jitter = (k: number): MergeRunner => runner({ afterStep: (s) => new Promise((r) => setTimeout(r, (round * 7 + k * 3 + STEPS.indexOf(s)) % 4)) });
    const outcomes = await Promise.all([p.link, p.link2].map((e, k) => jitter(k).merge(tenant, { survivor: b.survivor, loser: b.loser, messageId: e.messageId })));
    running = false;
    await sweeping;
    t.same(outcomes.map((o) => o.status), ['merged', 'merged'], `round ${round}: both runners see the merge`);
    t.ok(outcomes.filter((o) => o.status === 'merged' && o.first).length <= 1, `round ${round}: at most one runner made the tombstone (or the sweeper did)`);
    await applyOn(tenant, b.survivor, p.link, outcomes[0]?.status === 'merged' ? [outcomes[0].merge] : []);
    await checkMerged(t, tenant, b, p, v1.state, `round ${round}`);
  }
  t.ok(swept.has('aborted') && swept.has('finished'), `the sweeper took acceptances back and finished merges meanwhile (${[...swept].join(', ')})`);
});

void t.test('refused merges leave both profiles live; a wrong survivor is turned down', async (t) => {
  const tenant = fresh();
  const store = new RedisProfileStoreV2(redis, ns2, TTL, { policies, limits: LIMITS });
  const [x] = await store.applyEvents(tenant, [ev('q1', 1, ['user_id:q1', 'anonymous_id:qa'], {})]);
  const [y] = await store.applyEvents(tenant, [ev('q2', 2, ['user_id:q2'], {})]);
  const [z] = await store.applyEvents(tenant, [ev('q3', 3, ['anonymous_id:qz'], {})]);
  if (x === undefined || y === undefined || z === undefined) throw new Error('profiles missing');
  const r = runner();
  const live = async (pid: string): Promise<boolean> => (await redis.hget(profileKeys(ns2, tenant, pid).hash, 'state')) === null;
  const snapshot = async (pid: string): Promise<JsonObject> => stateOf(profileKeys(ns2, tenant, pid), v2Fc(tenant, pid));
  const before = [await snapshot(x.profileId), await snapshot(y.profileId)];

  t.same(await r.merge(tenant, { survivor: x.profileId, loser: y.profileId, messageId: 'q4' }), { status: 'refused', reason: 'limit user_id 1' }, 'two user_ids: refused');
  t.same([await snapshot(x.profileId), await snapshot(y.profileId)], before, 'neither changed');
  t.same(await r.merge(tenant, { survivor: y.profileId, loser: x.profileId, messageId: 'q4' }), { status: 'younger' }, 'the younger cannot absorb the older');

  await redis.sadd(profileKeys(ns2, tenant, z.profileId).nomerge, x.profileId);
  t.same(await r.merge(tenant, { survivor: x.profileId, loser: z.profileId, messageId: 'q5' }), { status: 'refused', reason: 'unmerged' }, 'split by an unmerge: refused');
  t.ok(await live(x.profileId) && await live(y.profileId) && await live(z.profileId), 'all three live');
  for (const pid of [y.profileId, z.profileId]) t.equal(await redis.zcard(r.journalKey(tenant, pid)), 0, 'no journal left');
  t.equal(await redis.exists(profileKeys(ns2, tenant, x.profileId).absorbing), 0, 'no absorbing entry');

  // The processor applies the event with the refusal, which the store records as it records any.
  const e = ev('q4', 4, ['user_id:q1', 'user_id:q2'], {});
  const refused = { reason: 'limit user_id 1', identifier: i('user_id:q2'), other: y.profileId };
  const res = readApplyProfile(await apply.run([profileKeys(ns2, tenant, x.profileId).prefix], applyProfileArgs(policyFor(policies, tenant), limitArgs(LIMITS), TTL, {
    event: e, birth: false, via: i('user_id:q1'), attach: [], refused: [refused], merges: [],
  })));
  t.same(res.status === 'new' ? res.applied.refused : [], [refused], 'the event\'s answer carries the refusal');
});

void t.test('L changes between acceptance and freeze: accepted again with its new identifiers, refused if they break a limit', async (t) => {
  const tenant = fresh();
  const store = new RedisProfileStoreV2(redis, ns2, TTL, { policies, limits: LIMITS });
  const [s] = await store.applyEvents(tenant, [ev('g1', 1, ['user_id:g1'], {})]);
  const [l] = await store.applyEvents(tenant, [ev('g2', 2, ['anonymous_id:g2'], {})]);
  if (s === undefined || l === undefined) throw new Error('profiles missing');
  const sk = profileKeys(ns2, tenant, s.profileId);
  // An event attaches a user_id to L right after S accepted it.
  const attach = async (step: MergeStep): Promise<void> => {
    if (step !== 'M1') return;
    await store.applyEvents(tenant, [ev('g3', 3, ['anonymous_id:g2', 'user_id:g9'], {})]);
  };
  t.same(await runner({ afterStep: attach }).merge(tenant, { survivor: s.profileId, loser: l.profileId, messageId: 'g4' }), { status: 'refused', reason: 'limit user_id 1' }, 'the new user_id makes it a refusal');
  t.same(await redis.smembers(sk.ids), ['user_id:g1'], 'S no longer holds L\'s reserved identifier');
  t.same([await redis.hget(sk.hash, 'state'), await redis.hget(profileKeys(ns2, tenant, l.profileId).hash, 'state'), await redis.exists(sk.absorbing)], [null, null, 0], 'both live, nothing absorbing');
  t.equal(await redis.zcard(runner().journalKey(tenant, l.profileId)), 0, 'no journal left');
  t.equal(await store.resolve(tenant, [i('user_id:g9')]), l.profileId, 'the attach went through on L');
});

void t.test('a chain: L still absorbing another profile is finished first (§3.4)', async (t) => {
  const tenant = fresh();
  const store = new RedisProfileStoreV2(redis, ns2, TTL, { policies, limits: { perType: {}, maxIdentifiers: 100 } });
  const [c] = await store.applyEvents(tenant, [ev('k1', 1, ['anonymous_id:kc'], {}, 'Viewed')]);
  const [b] = await store.applyEvents(tenant, [ev('k2', 2, ['anonymous_id:kb'], {}, 'Viewed')]);
  const [a] = await store.applyEvents(tenant, [ev('k3', 3, ['anonymous_id:ka'], {}, 'Viewed')]);
  if (a === undefined || b === undefined || c === undefined) throw new Error('profiles missing');
  const limits = { limits: { perType: {}, maxIdentifiers: 100 } };
  // A into B stops after its freeze (a crash); then C absorbs B, which must finish A first.
  await t.rejects(runner({ ...limits, afterStep: (s) => { if (s === 'M2') throw new Error('crash'); } }).merge(tenant, { survivor: b.profileId, loser: a.profileId, messageId: 'k4' }));
  const done = await runner(limits).merge(tenant, { survivor: c.profileId, loser: b.profileId, messageId: 'k5' });
  t.equal(done.status, 'merged', 'C absorbed B');
  t.same(done.status === 'merged' ? done.merge.identifiers.map(identifierKey) : [], ['anonymous_id:ka', 'anonymous_id:kb'], 'with A\'s identifier');
  t.same(await redis.hgetall(profileKeys(ns2, tenant, c.profileId).counts), { Viewed: '3' }, 'every event counted once');
  t.same((await redis.smembers(profileKeys(ns2, tenant, c.profileId).merged)).sort(), [a.profileId, b.profileId].sort(), 'C lists both as merged');
  for (const idf of ['anonymous_id:ka', 'anonymous_id:kb', 'anonymous_id:kc']) t.equal(await redis.get(ownerKey(tenant, idf)), c.profileId, `${idf} points at C`);
  t.equal((await store.get(tenant, a.profileId))?.id, c.profileId, 'A\'s tombstone leads to C');
  const [d] = await store.applyEvents(tenant, [ev('k6', 6, ['anonymous_id:kd'], {}, 'Viewed')]);
  t.same(await runner(limits).merge(tenant, { survivor: b.profileId, loser: d?.profileId ?? '', messageId: 'k7' }), { status: 'moved', profile: c.profileId }, 'a tombstone cannot absorb: moved to C');
});

void t.test('an acceptance whose loser was merged into a third profile that the survivor then absorbed leaves nothing behind', async (t) => {
  const noLimits = { limits: { perType: {}, maxIdentifiers: 100 } };
  for (const crash of [false, true]) {
    const tenant = fresh();
    const store = new RedisProfileStoreV2(redis, ns2, TTL, { policies, ...noLimits });
    const [s] = await store.applyEvents(tenant, [ev('h1', 1, ['anonymous_id:hs'], {})]);
    const [x] = await store.applyEvents(tenant, [ev('h2', 2, ['anonymous_id:hx'], {})]);
    const [l] = await store.applyEvents(tenant, [ev('h3', 3, ['anonymous_id:hl'], {})]);
    if (s === undefined || x === undefined || l === undefined) throw new Error('profiles missing');
    // Right after S accepted L, L is merged into X and X into S by others.
    const elsewhere = async (step: MergeStep): Promise<void> => {
      if (step !== 'M1') return;
      t.equal((await runner(noLimits).merge(tenant, { survivor: x.profileId, loser: l.profileId, messageId: 'h4' })).status, 'merged');
      t.equal((await runner(noLimits).merge(tenant, { survivor: s.profileId, loser: x.profileId, messageId: 'h5' })).status, 'merged');
      if (crash) throw new Error('crash');
    };
    const first = runner({ ...noLimits, afterStep: elsewhere }).merge(tenant, { survivor: s.profileId, loser: l.profileId, messageId: 'h6' });
    if (crash) {
      await t.rejects(first, /crash/);
      const swept = await runner({ ...noLimits, leaseMs: 0 }).sweep(tenant);
      t.equal(swept.get(l.profileId)?.status, 'finished', 'the sweeper finds L merged (into X)');
    } else {
      t.same(await first, { status: 'moved', profile: x.profileId }, 'the first merge finds L merged into X');
    }
    const sk = profileKeys(ns2, tenant, s.profileId);
    t.equal(await redis.exists(sk.absorbing), 0, `${crash ? 'crashed' : 'live'} driver: S keeps no acceptance of L`);
    t.equal(await redis.zcard(runner().journalKey(tenant, l.profileId)), 0, 'no journal entry of L is left');
    t.same((await redis.smembers(sk.ids)).sort(), ['anonymous_id:hl', 'anonymous_id:hs', 'anonymous_id:hx'], 'S holds every identifier');
    t.same(await redis.hgetall(sk.counts), { Viewed: '3' }, 'every event counted once');
  }
});

void t.test('on a 3-master Redis Cluster, survivor and loser on different masters', async (t) => {
  const cluster = await startRedisCluster(3);
  const single = { redis, apply };
  t.teardown(async () => {
    ({ redis, apply } = single);
    await cluster.stop();
  });
  // The helpers above use `redis` and `apply`: point them at the cluster for this test.
  redis = await connectRedis({ url: cluster.url, cluster: true }, 'merge-protocol-cluster-test');
  apply = applyProfileScript(redis);
  try {
    let k = 0;
    let found: Awaited<ReturnType<typeof setup>> | undefined;
    for (; k < 20 && found === undefined; k++) {
      const s = await setup(`cl${k}`);
      const masters = await Promise.all([s.b.survivor, s.b.loser].map((pid) => cluster.masterOf(profileKeys(ns2, s.tenant, pid).hash)));
      if (masters[0] !== masters[1]) found = s;
    }
    if (found === undefined) throw new Error('no person with its two profiles on two masters');
    const { tenant, p, v1, b } = found;
    await mergeAndApply(tenant, b, p.link);
    await checkMerged(t, tenant, b, p, v1.state, 'cluster');
  } finally {
    await redis.quit();
  }
});
