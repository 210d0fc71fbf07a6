import t from 'tap';
import type { PulseEvent } from '../../src/collection/event.ts';
import { identifierKey, type Identifier } from '../../src/identity/identifier.ts';
import { connectRedis, type RedisClient } from '../../src/infra/redis.ts';
import type { Json, JsonObject } from '../../src/json.ts';
import type { Applied, Merge } from '../../src/profiles/model.ts';
import type { IdentityLimits } from '../../src/profiles/policy.ts';
import { identifierOwner, profileIdFor, profileKeys } from '../../src/profiles/keys.ts';
import { MergeRunner, type MergeStep } from '../../src/profiles/merge.redis.ts';
import { RedisProfileStoreV2 } from '../../src/profiles/profile-v2.redis.ts';
import { RedisProfileStore } from '../../src/profiles/profile.redis.ts';
import type { ProfileStore } from '../../src/profiles/store.ts';
import { cleanupNamespace, REDIS_URL, uniqueNamespace } from '../support/env.ts';
import { random } from '../support/openrtb-mutations.ts';
import { everyPolicy } from '../support/policies.ts';

/*
 * src/profiles/per-profile-layout.md §9 "Equivalence": the same random event streams through today's store
 * (apply-event.lua, one slot per tenant, merging in one atomic script) and the per-profile store
 * (planning, the cross-slot merge protocol, apply-profile.lua) give the same profiles, answers
 * (merges and refusals included) and recorded refusals, profile ids aside.
 *
 * People carry 2-5 identifiers (a user_id or not, now and then two); an event carries 1-3 of its
 * person's identifiers, so anonymous profiles are born and merged later, and now and then one of
 * another person's (a shared device), which merges people or is refused by the guardrails
 * (per-type limits, max identifiers). Event times are distinct, so which profile is older (the
 * survivor) does not come down to the profile ids, which differ between the layouts.
 */

const ns1 = uniqueNamespace('eqv1');
const ns2 = uniqueNamespace('eqv2');
let redis: RedisClient;

t.before(async () => {
  redis = await connectRedis(REDIS_URL, 'profile-v2-equivalence-test');
});

t.teardown(async () => {
  await redis.quit();
  await cleanupNamespace(ns1);
  await cleanupNamespace(ns2);
});

const policies = everyPolicy();

const LIMITS: readonly IdentityLimits[] = [
  { perType: { user_id: 1 }, maxIdentifiers: 100 },
  { perType: { user_id: 1, email_sha256: 1 }, maxIdentifiers: 4 },
  { perType: { user_id: 1, anonymous_id: 2 }, maxIdentifiers: 3 },
  { perType: { user_id: 2 }, maxIdentifiers: 6 },
  { perType: {}, maxIdentifiers: 100 },
];
const OTHER_TYPES = ['anonymous_id', 'anonymous_id', 'email_sha256', 'idfa', 'cookie', 'partner:acme'];
const EVENTS = ['Viewed', 'Bought', 'Clicked'];
const COLORS = ['red', 'blue', 'green'];

interface Stream { readonly limits: IdentityLimits; readonly batches: readonly (readonly PulseEvent[])[] }

/** 3-6 people with 2-5 identifiers each; each event carries 1-3 of its person's, sometimes one of another person's. */
function stream(seed: number): Stream {
  const next = random(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
  const people: Identifier[][] = [];
  for (let p = 0, n = 3 + Math.floor(next() * 4); p < n; p++) {
    const ids: Identifier[] = next() < 0.7 ? [{ type: 'user_id', id: `u${p}` }] : [];
    for (let k = ids.length, m = 2 + Math.floor(next() * 4); k < m; k++) {
      const type = next() < 0.15 ? 'user_id' : pick(OTHER_TYPES);
      const id = type === 'email_sha256' ? (`${p}${k}`).padStart(64, 'e') : `${type.slice(0, 3)}-${p}-${k}`;
      ids.push({ type, id });
    }
    people.push(ids);
  }
  const count = people.length * (3 + Math.floor(next() * 5));
  // Distinct times in shuffled order: created (who survives) never ties.
  const times = Array.from({ length: count }, (_, n) => n);
  for (let k = times.length - 1; k > 0; k--) {
    const j = Math.floor(next() * (k + 1));
    [times[k], times[j]] = [times[j] ?? 0, times[k] ?? 0];
  }
  const events: PulseEvent[] = [];
  for (let n = 0; n < count; n++) {
    const own = people[Math.floor(next() * people.length)] ?? [];
    const ids = [...own].sort(() => next() - 0.5).slice(0, 1 + Math.floor(next() * 3));
    if (next() < 0.15) ids.push(pick(pick(people)));
    const name = pick(EVENTS);
    const traits: JsonObject = {};
    if (next() < 0.5) traits['plan'] = pick(['free', 'pro', 'team']);
    if (next() < 0.3) traits['signup'] = pick(['ads', 'mail']);
    if (next() < 0.3) traits['name'] = `N${n}`;
    if (next() < 0.3) traits['score'] = Math.floor(next() * 100);
    if (next() < 0.3) traits['price'] = Math.round(next() * 1000) / 10;
    if (next() < 0.3) traits['tags'] = [pick(['a', 'b', 'c']), pick(['c', 'd'])];
    if (next() < 0.3) traits['visits'] = pick([1, 2, 0.5]);
    events.push({
      type: next() < 0.2 ? 'identify' : 'track', messageId: `s${seed}-e${n}`, timestamp: 1_760_000_000_000 + (times[n] ?? 0) * 60_000,
      userId: undefined, anonymousId: undefined, event: name, properties: { amount: Math.round(next() * 5000) / 100, color: pick(COLORS) },
      traits, context: { source: pick(['crm', 'web', 'app']) }, identifiers: ids, extra: {},
    });
  }
  // Batches of 1-8 events; now and then an earlier event is delivered again.
  const batches: PulseEvent[][] = [];
  for (let k = 0; k < events.length;) {
    const size = 1 + Math.floor(next() * 8);
    const batch = events.slice(k, k + size);
    if (k > 0 && next() < 0.3) batch.push(pick(events.slice(0, k)));
    batches.push(batch);
    k += size;
  }
  return { limits: pick(LIMITS), batches };
}

/** A profile named by its identifiers, since the two stores give it different ids. */
interface Normalized {
  readonly profiles: Record<string, Json>;
  readonly answers: Json[];
  readonly refusals: string[];
}

async function run(store: ProfileStore, tenant: string, s: Stream): Promise<Normalized> {
  const applied: Applied[] = [];
  for (const batch of s.batches) applied.push(...await store.applyEvents(tenant, batch));
  return normalize(store, tenant, s.batches.flat(), applied);
}

/** Profiles by identifier set; every profile id (merged-away ones too) named by the identifiers of the profile it lives on in. */
async function normalize(store: ProfileStore, tenant: string, events: readonly PulseEvent[], applied: readonly Applied[]): Promise<Normalized> {
  const all = new Map<string, Identifier>();
  for (const e of events) for (const idf of e.identifiers) all.set(identifierKey(idf), idf);
  const name = new Map<string, string>([['', '']]);
  const profiles: Record<string, Json> = {};
  for (const idf of all.values()) {
    const pid = await store.resolve(tenant, [idf]);
    if (pid === undefined || name.has(pid)) continue;
    const p = await store.get(tenant, pid);
    if (p === undefined) throw new Error(`${identifierKey(idf)} resolves to ${pid}, which has no profile`);
    const key = p.identifiers.map(identifierKey).join(' ');
    name.set(pid, key);
    profiles[key] = { traits: p.traits, eventCounts: p.eventCounts, firstSeen: p.firstSeen, lastSeen: p.lastSeen, version: p.version };
  }
  const stored = await store.refusedMerges(tenant, 1000);
  const pids = new Set([
    ...applied.flatMap((a) => [a.profileId, ...a.merges.flatMap((m) => [m.survivor, m.merged]), ...a.refused.map((r) => r.other)]),
    ...stored.flatMap((r) => [r['profile'], r['other']].filter((x): x is string => typeof x === 'string')),
  ]);
  for (const pid of pids) {
    if (!name.has(pid)) name.set(pid, (await store.get(tenant, pid))?.identifiers.map(identifierKey).join(' ') ?? `unknown ${pid}`);
  }
  const named = (pid: string): string => name.get(pid) ?? `unknown ${pid}`;
  // With several types over their limits apply-event.lua names the first in Lua's table order (guardrailRefusal).
  const reason = (why: string, other: string): string => (other === '' ? why : why.replace(/^limit .*/, 'limit'));
  const answers = applied.map((a): Json => ({
    profile: named(a.profileId), version: a.version, duplicate: a.duplicate,
    traitChanges: a.traitChanges.map((c) => [c.trait, c.value]),
    merges: a.merges.map((m) => [named(m.survivor), named(m.merged), m.identifiers.map(identifierKey).join(' ')]),
    refused: a.refused.map((r) => [reason(r.reason, r.other), identifierKey(r.identifier), named(r.other)]),
  }));
  const refusals = stored.map((r) => {
    const [profile, other, why] = [r['profile'], r['other'], r['reason']].map((x) => (typeof x === 'string' ? x : ''));
    return JSON.stringify([r['at'], r['messageId'], named(profile ?? ''), r['identifier'], named(other ?? ''), reason(why ?? '', other ?? '')]);
  }).sort();
  return { profiles, answers, refusals };
}

void t.test('random streams with merges and refusals: the per-profile store ends in the state today\'s store does', async (t) => {
  let refusals = 0;
  let linked = 0;
  let dups = 0;
  let merges = 0;
  let chained = 0;
  for (let seed = 1; seed <= 80; seed++) {
    const s = stream(seed);
    const tenant = `eq${seed}`;
    const v1 = await run(new RedisProfileStore(redis, ns1, 3600, { policies, limits: s.limits }), tenant, s);
    const v2 = await run(new RedisProfileStoreV2(redis, ns2, 3600, { policies, limits: s.limits, merge: { buckets: 8 } }), tenant, s);
    t.same(v2.profiles, v1.profiles, `seed ${seed}: the same profiles`);
    t.same(v2.answers, v1.answers, `seed ${seed}: the same answer to every event`);
    t.same(v2.refusals, v1.refusals, `seed ${seed}: the same refusals recorded`);
    refusals += v1.refusals.length;
    linked += v1.refusals.filter((r) => (JSON.parse(r) as string[])[4] !== '').length;
    for (const a of v1.answers as { duplicate: boolean; merges: unknown[] }[]) {
      if (a.duplicate) dups++;
      else merges += a.merges.length;
      if (a.merges.length > 1) chained++;
    }
  }
  t.ok(merges > 60 && chained > 2, `the streams merge (${merges} merges, ${chained} events merging several profiles)`);
  t.ok(linked > 10 && refusals > 20 && dups > 10, `the streams exercise refused links (${linked} of ${refusals} refusals) and redeliveries (${dups})`);
});

/** The test connection, with what `override` returns for a property instead of the connection's own. */
function intercept(override: (prop: string | symbol) => unknown): RedisClient {
  return new Proxy(redis, {
    get(target, prop) {
      const v: unknown = override(prop) ?? Reflect.get(target, prop);
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
}

const ev = (messageId: string, ids: Identifier[], at = 0): PulseEvent => ({
  type: 'track', messageId, timestamp: 1_760_000_000_000 + at * 1000, userId: undefined, anonymousId: undefined,
  event: 'Viewed', properties: {}, traits: { n: messageId }, context: {}, identifiers: ids, extra: {},
});
const anon = (id: string): Identifier => ({ type: 'anonymous_id', id });

void t.test('an event linking two profiles merges them; a redelivery returns the merge again', async (t) => {
  const tenant = 'link';
  const published: string[] = [];
  const store = new RedisProfileStoreV2(redis, ns2, 3600, { merge: { buckets: 8, publish: async (_t, m, mid) => { published.push(`${m.merged} ${mid}`); } } });
  const [first, second] = await store.applyEvents(tenant, [ev('n1', [anon('a')], 1), ev('n2', [anon('a')], 2)]);
  t.equal(second?.profileId, first?.profileId, 'two events of a new device in one batch make one profile');
  const [b] = await store.applyEvents(tenant, [ev('n3', [anon('b')], 3)]);
  const [linked] = await store.applyEvents(tenant, [ev('n4', [anon('b'), anon('a')], 4)]);
  t.same(linked?.merges.map((m) => [m.survivor, m.merged, m.identifiers.map(identifierKey)]), [[first?.profileId, b?.profileId, ['anonymous_id:b']]], 'the older profile absorbed the younger');
  t.same([linked?.profileId, linked?.version, linked?.duplicate], [first?.profileId, 4, false], 'applied on the survivor, whose version passes both');
  t.same(published, [`${b?.profileId ?? ''} n4`], 'merge:<L> published for the linking event');
  const [again] = await store.applyEvents(tenant, [ev('n4', [anon('b'), anon('a')], 4)]);
  t.same([again?.duplicate, again?.merges.length, again?.profileId], [true, 1, first?.profileId], 'a redelivery returns the merge');
  t.same((await store.get(tenant, b?.profileId ?? ''))?.eventCounts, { Viewed: 4 }, 'the loser reads as the survivor, every event counted once');
});

void t.test('a claim lost to another profile: planned again, the two merged, the event counted once, as in a sequential run', async (t) => {
  const tenant = 'lost';
  const events = [ev('l1', [anon('a')], 1), ev('l2', [anon('b')], 2), ev('l3', [anon('b'), anon('c')], 3), ev('l4', [anon('a'), anon('c')], 4)];
  const v1Store = new RedisProfileStore(redis, ns1, 3600);
  const v1Applied: Applied[] = [];
  for (const e of events) v1Applied.push(...await v1Store.applyEvents(tenant, [e]));
  const store = new RedisProfileStoreV2(redis, ns2, 3600, { merge: { buckets: 8 } });
  const v2Applied: Applied[] = [];
  for (const e of events.slice(0, 3)) v2Applied.push(...await store.applyEvents(tenant, [e]));
  // The racing processor reads `c` as nobody's once: it attaches c to a's profile and loses the claim.
  let lied = 0;
  const racing = intercept((prop) => (prop === 'get'
    ? async (key: string) => (key.endsWith(':id:anonymous_id:c') && lied++ === 0 ? null : redis.get(key))
    : undefined));
  const [r] = await new RedisProfileStoreV2(racing, ns2, 3600, { merge: { buckets: 8 } }).applyEvents(tenant, [events[3] as PulseEvent]);
  v2Applied.push(r as Applied);
  t.ok(lied > 1, 'c was read as nobody\'s once');
  t.same([r?.duplicate, r?.merges.length], [false, 1], 'the answer is the first application\'s, with the merge');
  const v1 = await normalize(v1Store, tenant, events, v1Applied);
  const v2 = await normalize(store, tenant, events, v2Applied);
  t.same(v2.profiles, v1.profiles, 'the same profiles as today\'s store applying the events in order');
  t.same((v2.answers[3] as { merges: Json[] }).merges, (v1.answers[3] as { merges: Json[] }).merges, 'the same merge');
  const [again] = await store.applyEvents(tenant, [events[3] as PulseEvent]);
  t.same([again?.duplicate, again?.merges.length], [true, 1], 'a redelivery returns the merge');
});

void t.test('a claim lost to a profile the guardrails keep apart: the identifier is released', async (t) => {
  const tenant = 'release';
  const limits = { perType: { user_id: 1, email_sha256: 1 }, maxIdentifiers: 100 };
  const store = new RedisProfileStoreV2(redis, ns2, 3600, { limits, merge: { buckets: 8 } });
  const u2: Identifier = { type: 'user_id', id: '2' };
  const email = (d: string): Identifier => ({ type: 'email_sha256', id: d.repeat(64) });
  const [q] = await store.applyEvents(tenant, [ev('r1', [u2, email('a')], 1)]);
  let lied = 0;
  const racing = intercept((prop) => (prop === 'get' ? async (key: string) => (key.endsWith(':id:user_id:2') && lied++ === 0 ? null : redis.get(key)) : undefined));
  // The racing processor reads user_id:2 as nobody's: it births a profile holding it and loses the claim.
  const [r] = await new RedisProfileStoreV2(racing, ns2, 3600, { limits, merge: { buckets: 8 } }).applyEvents(tenant, [ev('r2', [u2, email('b')], 2)]);
  t.ok(lied > 1, 'user_id:2 was read as nobody\'s once');
  t.not(r?.profileId, q?.profileId, 'the event stays on the profile born for it');
  t.same(r?.refused.map((x) => [x.reason, identifierKey(x.identifier), x.other]), [['limit email_sha256 1', 'user_id:2', q?.profileId]], 'merging the two would break the email limit');
  t.same(r?.merges, []);
  t.same((await store.get(tenant, r?.profileId ?? ''))?.identifiers, [email('b')], 'which gave user_id:2 up');
  t.same((await store.get(tenant, q?.profileId ?? ''))?.identifiers.map(identifierKey).sort(), [identifierKey(email('a')), 'user_id:2'], 'the owner keeps its identifiers');
  t.equal(await store.resolve(tenant, [u2]), q?.profileId);
  const recorded = await store.refusedMerges(tenant, 10);
  t.same(recorded.map((x) => [x['profile'], x['identifier'], x['other']]), [[r?.profileId, 'user_id:2', q?.profileId]], 'the refusal is recorded');
});

void t.test('a merge the survivor refuses although the snapshot allowed it: the event is planned again with the refusal, as today\'s store answers', async (t) => {
  const tenant = 'refusedlate';
  const limits = { perType: { user_id: 1 }, maxIdentifiers: 100 };
  const u = (id: string): Identifier => ({ type: 'user_id', id });
  const events = [ev('x1', [u('1'), anon('s')], 1), ev('x2', [u('2'), anon('l')], 2), ev('x3', [anon('s'), anon('l')], 3)];
  const v1Store = new RedisProfileStore(redis, ns1, 3600, { limits });
  const v1Applied: Applied[] = [];
  for (const e of events) v1Applied.push(...await v1Store.applyEvents(tenant, [e]));
  const store = new RedisProfileStoreV2(redis, ns2, 3600, { limits, merge: { buckets: 8 } });
  const v2Applied = [...await store.applyEvents(tenant, events.slice(0, 2))];
  const s = v2Applied[0]?.profileId ?? '';
  // The planner reads S without its user_id (a stale read), so it plans the merge; merge-accept.lua refuses it.
  const stale = intercept((prop) => (prop === 'smembers'
    ? async (key: string) => (key === profileKeys(ns2, tenant, s).ids ? ['anonymous_id:s'] : redis.smembers(key))
    : undefined));
  const racing = new RedisProfileStoreV2(stale, ns2, 3600, { limits, merge: { buckets: 8 } });
  v2Applied.push(...await racing.applyEvents(tenant, [events[2] as PulseEvent]));
  t.same([racing.stats.mergeRefused, racing.stats.merged], [1, 0], 'the survivor refused the planned merge');
  const v1 = await normalize(v1Store, tenant, events, v1Applied);
  const v2 = await normalize(store, tenant, events, v2Applied);
  t.same(v2.answers, v1.answers, 'the same answers (the refusal in the linking event\'s)');
  t.same(v2.refusals, v1.refusals, 'the same refusal recorded');
  t.same(v2.profiles, v1.profiles, 'the same profiles');
});

void t.test('a crash right after a lost claim: the redelivery gives the identifier up', async (t) => {
  const tenant = 'release2';
  const limits = { perType: { user_id: 1 }, maxIdentifiers: 100 };
  const store = new RedisProfileStoreV2(redis, ns2, 3600, { limits, merge: { buckets: 8 } });
  const u = (id: string): Identifier => ({ type: 'user_id', id });
  const a: Identifier = { type: 'email_sha256', id: 'a'.repeat(64) };
  const [q] = await store.applyEvents(tenant, [ev('y1', [u('2'), a], 1)]);
  const [p] = await store.applyEvents(tenant, [ev('y2', [u('3')], 2)]);
  // The first delivery reads the email as nobody's, attaches it to p, loses the claim and crashes.
  const crashing = intercept((prop) => {
    if (prop === 'get') return async (key: string) => (key.endsWith(`:id:${identifierKey(a)}`) ? null : redis.get(key));
    if (prop === 'set') return async (...args: unknown[]) => { await (redis.set as (...x: unknown[]) => Promise<unknown>)(...args); throw new Error('crash'); };
    return undefined;
  });
  await t.rejects(new RedisProfileStoreV2(crashing, ns2, 3600, { limits, merge: { buckets: 8 } }).applyEvents(tenant, [ev('y3', [u('3'), a], 3)]), /crash/);
  t.same((await redis.smembers(profileKeys(ns2, tenant, p?.profileId ?? '').ids)).sort(), [identifierKey(a), 'user_id:3'], 'p lists the email whose claim it lost');
  const [r] = await store.applyEvents(tenant, [ev('y3', [u('3'), a], 3)]);
  t.same([r?.profileId, r?.duplicate], [p?.profileId, true], 'the redelivery is a duplicate on p');
  t.same(await redis.smembers(profileKeys(ns2, tenant, p?.profileId ?? '').ids), ['user_id:3'], 'which gave the email up (merging with its owner breaks the user_id limit)');
  t.equal(await store.resolve(tenant, [a]), q?.profileId, 'the email stays its owner\'s');
  t.equal(store.stats.released, 1);
});

void t.test('an owner merged away after it was read: apply-profile answers moved, the event is planned again and lands on the survivor', async (t) => {
  const tenant = 'moved';
  const store = new RedisProfileStoreV2(redis, ns2, 3600, { merge: { buckets: 8 } });
  const [s] = await store.applyEvents(tenant, [ev('m1', [anon('ms')], 1)]);
  const [l] = await store.applyEvents(tenant, [ev('m2', [anon('ml')], 2)]);
  await store.applyEvents(tenant, [ev('m3', [anon('ms'), anon('ml')], 3)]);
  const lk = profileKeys(ns2, tenant, l?.profileId ?? '');
  t.equal(await redis.hget(lk.hash, 'state'), 'merged', 'l is a tombstone');
  // The late processor still finds `ml` naming l, and reads l as live once.
  let late = 0;
  const stale = intercept((prop) => {
    if (prop === 'get') return async (key: string) => (key.endsWith(':id:anonymous_id:ml') ? l?.profileId ?? null : redis.get(key));
    if (prop === 'hmget') return async (key: string, ...fields: string[]) => (key === lk.hash && late++ === 0 ? [null, null, '1'] : redis.hmget(key, ...fields));
    if (prop === 'smembers') return async (key: string) => (key === lk.ids && late <= 1 ? ['anonymous_id:ml'] : redis.smembers(key));
    return undefined;
  });
  const racing = new RedisProfileStoreV2(stale, ns2, 3600, { merge: { buckets: 8 } });
  const [r] = await racing.applyEvents(tenant, [ev('m4', [anon('ml')], 4)]);
  t.equal(racing.stats.moved, 1, 'apply-profile answered moved once');
  t.same([r?.profileId, r?.duplicate], [s?.profileId, false], 'the event landed on the survivor');
  t.same((await store.get(tenant, s?.profileId ?? ''))?.eventCounts, { Viewed: 4 }, 'every event counted once');
});

void t.test('an owner found frozen by a crashed merge: finished, then the event applies on the survivor', async (t) => {
  const tenant = 'frozen';
  const store = new RedisProfileStoreV2(redis, ns2, 3600, { merge: { buckets: 8, helpAfterMs: 20 } });
  const [s] = await store.applyEvents(tenant, [ev('f1', [anon('s')], 1)]);
  const [l] = await store.applyEvents(tenant, [ev('f2', [anon('l')], 2)]);
  const crashing = new MergeRunner(redis, ns2, { buckets: 8, afterStep: (step) => { if (step === 'M2') throw new Error('crash'); } });
  await t.rejects(crashing.merge(tenant, { survivor: s?.profileId ?? '', loser: l?.profileId ?? '', messageId: 'f3' }), /crash/);
  t.equal(await redis.hget(profileKeys(ns2, tenant, l?.profileId ?? '').hash, 'state'), 'frozen', 'the loser is left frozen');
  const [r] = await store.applyEvents(tenant, [ev('f4', [anon('l')], 4)]);
  t.same([r?.profileId, r?.duplicate], [s?.profileId, false], 'the event lands on the survivor');
  t.same((await store.get(tenant, s?.profileId ?? ''))?.eventCounts, { Viewed: 3 }, 'every event counted once');
  t.equal(await redis.hget(profileKeys(ns2, tenant, l?.profileId ?? '').hash, 'state'), 'merged', 'the merge was finished');
  t.equal(await redis.get(identifierOwner(ns2, tenant, anon('l'))), s?.profileId, 'its identifier points at the survivor');
});

void t.test('a birth whose claims a crash interrupted, redelivered after another profile took the identifier: merged, counted once', async (t) => {
  const tenant = 'reborn';
  const store = new RedisProfileStoreV2(redis, ns2, 3600, { merge: { buckets: 8 } });
  // The first delivery of b1 births its profile and crashes before the claim.
  const failing = intercept((prop) => (prop === 'set' ? async () => { throw new Error('crash'); } : undefined));
  await t.rejects(new RedisProfileStoreV2(failing, ns2, 3600, { merge: { buckets: 8 } }).applyEvents(tenant, [ev('b1', [anon('z')], 1)]), /crash/);
  const [other] = await store.applyEvents(tenant, [ev('b2', [anon('z')], 2)]);
  t.not(other?.profileId, profileIdFor(tenant, 'b1'), 'another event made its own profile for the identifier');
  const [r] = await store.applyEvents(tenant, [ev('b1', [anon('z')], 1)]);
  t.same(r?.merges.length, 1, 'the redelivery merges the profile it was born on with the owner');
  t.same((await store.get(tenant, other?.profileId ?? ''))?.eventCounts, { Viewed: 2 }, 'each event counted once');
});

/** The keys of a namespace's tenant matching `part` (`p`, `absorbing`, `jobs`). */
async function tenantKeysMatching(ns: string, tenant: string, part: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${ns}:{${tenant}:*}:${part}`, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out;
}

void t.test('a crash after each merge step, recovered by the redelivery, by the sweeper, or by another event reaching the loser: the state without a crash, each event once', async (t) => {
  const steps: readonly MergeStep[] = ['M0', 'M1', 'M2', 'M3', 'M4', 'M5'];
  for (const step of steps) {
    for (const recovery of ['redelivery', 'sweeper', 'other event'] as const) {
      const tenant = `crash-${step.toLowerCase()}-${recovery.split(' ')[0] ?? ''}`;
      const idfa: Identifier = { type: 'idfa', id: 'b2' };
      const [e1, e2, e3, e4] = [ev('c1', [anon('a')], 1), ev('c2', [anon('b'), idfa], 2), ev('c3', [anon('b'), anon('a')], 3), ev('c4', [idfa], 4)] as [PulseEvent, PulseEvent, PulseEvent, PulseEvent];
      const v1Store = new RedisProfileStore(redis, ns1, 3600);
      const v1Applied: Applied[] = [];
      for (const e of [e1, e2, e3, e4]) v1Applied.push(...await v1Store.applyEvents(tenant, [e]));
      const published: string[] = [];
      const merge = { buckets: 8, helpAfterMs: 20, publish: async (_t: string, m: Merge) => { published.push(m.merged); } };
      const store = new RedisProfileStoreV2(redis, ns2, 3600, { merge });
      const v2Applied = [...await store.applyEvents(tenant, [e1]), ...await store.applyEvents(tenant, [e2])];
      const crashing = new RedisProfileStoreV2(redis, ns2, 3600, { merge: { ...merge, afterStep: (s: MergeStep) => { if (s === step) throw new Error(`crash after ${s}`); } } });
      await t.rejects(crashing.applyEvents(tenant, [e3]), { message: `crash after ${step}` });
      const sweeper = new MergeRunner(redis, ns2, { buckets: 8, leaseMs: 0, publish: merge.publish });
      const fresh = new RedisProfileStoreV2(redis, ns2, 3600, { merge });
      if (recovery === 'sweeper') await sweeper.sweep(tenant);
      const order = recovery === 'other event' ? [e4, e3] : [e3, e4];
      for (const e of order) v2Applied.push(...await fresh.applyEvents(tenant, [e]));
      const label = `crash after ${step}, recovered by the ${recovery}`;
      const leftover = async (): Promise<number[]> => {
        const states = await Promise.all((await tenantKeysMatching(ns2, tenant, 'p')).map((k) => redis.hget(k, 'state')));
        const jobs = await Promise.all((await tenantKeysMatching(ns2, tenant, 'jobs')).map((k) => redis.zcard(k)));
        return [states.filter((x) => x === 'frozen').length, (await tenantKeysMatching(ns2, tenant, 'absorbing')).length, jobs.reduce((a, b) => a + b, 0)];
      };
      t.same(await leftover(), [0, 0, 0], `${label}: the redelivery finished (or took back) the merge, no sweep needed`);
      // The redelivery answers the merge unless the sweeper finished it first, or the other event
      // did (it meets L frozen while L's identifiers still name L, M2-M3).
      const frozen = steps.indexOf(step) >= steps.indexOf('M2');
      const swept = (recovery === 'sweeper' && frozen) || (recovery === 'other event' && frozen && steps.indexOf(step) < steps.indexOf('M4'));
      t.same(v2Applied.find((a, n) => n >= 2 && a.merges.length > 0 && !a.duplicate)?.merges.length ?? 0, swept ? 0 : 1, `${label}: the redelivered event's answer ${swept ? 'has no merge' : 'has the merge'}`);
      await sweeper.sweep(tenant);
      const v1 = await normalize(v1Store, tenant, [e1, e2, e3, e4], v1Applied);
      const v2 = await normalize(store, tenant, [e1, e2, e3, e4], v2Applied);
      t.same(v2.profiles, v1.profiles, `${label}: the profiles of a run without a crash`);
      t.same(await leftover(), [0, 0, 0], `${label}: after a sweep nothing frozen, absorbing or journaled is left`);
      const states = await Promise.all((await tenantKeysMatching(ns2, tenant, 'p')).map((k) => redis.hget(k, 'state')));
      const tombstones = states.filter((x) => x === 'merged').length;
      t.same([tombstones, [...new Set(published)].length], [1, 1], `${label}: one tombstone, merge:<L> published for it`);
    }
  }
});

void t.test('an id key naming a profile that does not hold the identifier: resolved again, then applied anyway', async (t) => {
  const tenant = 'stale';
  const store = new RedisProfileStoreV2(redis, ns2, 3600);
  const base = { type: 'track', timestamp: 1_760_000_000_000, userId: undefined, anonymousId: undefined, event: 'Viewed', properties: {}, traits: {}, context: {}, extra: {} } as const;
  const s: Identifier = { type: 'anonymous_id', id: 's' };
  const [born] = await store.applyEvents(tenant, [{ ...base, messageId: 'k1', identifiers: [s] }]);
  const pid = born?.profileId ?? '';
  await redis.srem(profileKeys(ns2, tenant, pid).ids, 'anonymous_id:s');
  let calls = 0;
  const counting = intercept((prop) => {
    if (prop === 'pulseApplyProfile') calls++;
    return undefined;
  });
  const [r] = await new RedisProfileStoreV2(counting, ns2, 3600).applyEvents(tenant, [{ ...base, messageId: 'k2', identifiers: [s] }]);
  t.same([r?.profileId, r?.version, r?.duplicate], [pid, 2, false]);
  t.equal(calls, 3, 'stale, stale again after resolving, then applied without the check');
  t.same((await store.get(tenant, pid))?.eventCounts, { Viewed: 2 });
});
