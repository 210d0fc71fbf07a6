import t from 'tap';
import type { PulseEvent } from '../../src/collection/event.ts';
import { identifierKey, type Identifier } from '../../src/identity/identifier.ts';
import { connectRedis, type RedisClient } from '../../src/infra/redis.ts';
import type { Json, JsonObject } from '../../src/json.ts';
import type { Applied } from '../../src/profiles/model.ts';
import type { IdentityLimits } from '../../src/profiles/policy.ts';
import { profileKeys } from '../../src/profiles/keys.ts';
import { RedisProfileStoreV2 } from '../../src/profiles/profile-v2.redis.ts';
import { RedisProfileStore } from '../../src/profiles/profile.redis.ts';
import type { ProfileStore } from '../../src/profiles/store.ts';
import { cleanupNamespace, REDIS_URL, uniqueNamespace } from '../support/env.ts';
import { random } from '../support/openrtb-mutations.ts';
import { everyPolicy } from '../support/policies.ts';

/*
 * src/profiles/per-profile-layout.md §9 "Equivalence", restricted to streams that merge no profiles (step 4):
 * the same random event streams through today's store (apply-event.lua, one slot per tenant) and
 * the per-profile store give the same profiles, answers and refusals, profile ids aside.
 *
 * Merge-free by construction: every person has a user_id that comes first in each of its events
 * and the user_id limit is 1, so each profile holds exactly one user_id and any event that links
 * two profiles is refused. Identifiers of another person show up now and then (a shared device).
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
];
const OTHER_TYPES = ['anonymous_id', 'anonymous_id', 'email_sha256', 'idfa', 'cookie', 'partner:acme'];
const EVENTS = ['Viewed', 'Bought', 'Clicked'];
const COLORS = ['red', 'blue', 'green'];

interface Stream { readonly limits: IdentityLimits; readonly batches: readonly (readonly PulseEvent[])[] }

/** 3-6 people with 2-5 identifiers each; a person's first event carries them all, later ones its user_id and a subset. */
function stream(seed: number): Stream {
  const next = random(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
  const people: Identifier[][] = [];
  for (let p = 0, n = 3 + Math.floor(next() * 4); p < n; p++) {
    const ids: Identifier[] = [{ type: 'user_id', id: `u${p}` }];
    for (let k = 1, m = 2 + Math.floor(next() * 4); k < m; k++) {
      const type = next() < 0.15 ? 'user_id' : pick(OTHER_TYPES);
      const id = type === 'email_sha256' ? (`${p}${k}`).padStart(64, 'e') : `${type.slice(0, 3)}-${p}-${k}`;
      ids.push({ type, id });
    }
    people.push(ids);
  }
  const queue: { person: number; first: boolean }[] = [];
  people.forEach((_, p) => {
    queue.push({ person: p, first: true });
    for (let k = 0, m = 2 + Math.floor(next() * 5); k < m; k++) queue.push({ person: p, first: false });
  });
  // Shuffle while keeping each person's first event before its others.
  for (let k = queue.length - 1; k > 0; k--) {
    const j = Math.floor(next() * (k + 1));
    [queue[k], queue[j]] = [queue[j] as (typeof queue)[number], queue[k] as (typeof queue)[number]];
  }
  const started = new Set<number>();
  const ordered: typeof queue = [];
  for (const q of queue) {
    if (started.has(q.person)) ordered.push({ person: q.person, first: false });
    else {
      started.add(q.person);
      ordered.push({ person: q.person, first: true });
    }
  }
  const events: PulseEvent[] = [];
  for (const [n, q] of ordered.entries()) {
    const [top, ...rest] = people[q.person] ?? [];
    if (top === undefined) continue;
    const others = q.first ? [...rest].sort(() => next() - 0.5) : rest.filter(() => next() < 0.5);
    if (next() < 0.2) others.push(pick(pick(people)));
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
      type: next() < 0.2 ? 'identify' : 'track', messageId: `s${seed}-e${n}`, timestamp: 1_760_000_000_000 + Math.floor(next() * 10) * 60_000,
      userId: undefined, anonymousId: undefined, event: name, properties: { amount: Math.round(next() * 5000) / 100, color: pick(COLORS) },
      traits, context: { source: pick(['crm', 'web', 'app']) }, identifiers: [top, ...others], extra: {},
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
  const all = new Map<string, Identifier>();
  for (const batch of s.batches) for (const e of batch) for (const idf of e.identifiers) all.set(identifierKey(idf), idf);
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
  const named = (pid: string): string => name.get(pid) ?? `unknown ${pid}`;
  // With several types over their limits apply-event.lua names the first in Lua's table order (guardrailRefusal).
  const reason = (why: string, other: string): string => (other === '' ? why : why.replace(/^limit .*/, 'limit'));
  const answers = applied.map((a): Json => ({
    profile: named(a.profileId), version: a.version, duplicate: a.duplicate,
    traitChanges: a.traitChanges.map((c) => [c.trait, c.value]),
    merges: a.merges.length,
    refused: a.refused.map((r) => [reason(r.reason, r.other), identifierKey(r.identifier), named(r.other)]),
  }));
  const refusals = (await store.refusedMerges(tenant, 1000)).map((r) => {
    const [profile, other, why] = [r['profile'], r['other'], r['reason']].map((x) => (typeof x === 'string' ? x : ''));
    return JSON.stringify([r['at'], r['messageId'], named(profile ?? ''), r['identifier'], named(other ?? ''), reason(why ?? '', other ?? '')]);
  }).sort();
  return { profiles, answers, refusals };
}

void t.test('merge-free streams: the per-profile store ends in the state today\'s store does', async (t) => {
  let refusals = 0;
  let linked = 0;
  let dups = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const s = stream(seed);
    const tenant = `eq${seed}`;
    const v1 = await run(new RedisProfileStore(redis, ns1, 3600, { policies, limits: s.limits }), tenant, s);
    const v2 = await run(new RedisProfileStoreV2(redis, ns2, 3600, { policies, limits: s.limits }), tenant, s);
    t.ok(v1.answers.every((a) => (a as { merges: number }).merges === 0), `seed ${seed}: the stream merges nothing`);
    t.same(v2.profiles, v1.profiles, `seed ${seed}: the same profiles`);
    t.same(v2.answers, v1.answers, `seed ${seed}: the same answer to every event`);
    t.same(v2.refusals, v1.refusals, `seed ${seed}: the same refusals recorded`);
    refusals += v1.refusals.length;
    linked += v1.refusals.filter((r) => !r.endsWith('"","limit user_id 1"]') && (JSON.parse(r) as string[])[4] !== '').length;
    dups += v1.answers.filter((a) => (a as { duplicate: boolean }).duplicate).length;
  }
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

void t.test('what needs a merge across profiles throws until step 5', async (t) => {
  const tenant = 'nomerge';
  const store = new RedisProfileStoreV2(redis, ns2, 3600);
  const ev = (messageId: string, ids: Identifier[]): PulseEvent => ({
    type: 'track', messageId, timestamp: 1_760_000_000_000, userId: undefined, anonymousId: undefined,
    event: 'Viewed', properties: {}, traits: {}, context: {}, identifiers: ids, extra: {},
  });
  const a: Identifier = { type: 'anonymous_id', id: 'a' };
  const b: Identifier = { type: 'anonymous_id', id: 'b' };
  const c: Identifier = { type: 'anonymous_id', id: 'c' };
  const [first, second] = await store.applyEvents(tenant, [ev('n1', [a]), ev('n2', [a])]);
  t.equal(second?.profileId, first?.profileId, 'two events of a new device in one batch make one profile');
  await store.applyEvents(tenant, [ev('n3', [b])]);
  await t.rejects(store.applyEvents(tenant, [ev('n4', [a, b])]), /merge across profiles needs step 5/, 'an event linking two profiles');

  // Another processor claims `c` between this one's read of its owner and its claim.
  const owner = await store.resolve(tenant, [b]);
  const racing = intercept((prop) => (prop === 'get' ? async (key: string) => (key.endsWith(':id:anonymous_id:c') ? null : redis.get(key)) : undefined));
  await store.applyEvents(tenant, [ev('n5', [b, c])]);
  t.equal(await store.resolve(tenant, [c]), owner);
  await t.rejects(new RedisProfileStoreV2(racing, ns2, 3600).applyEvents(tenant, [ev('n6', [a, c])]), /merge across profiles needs step 5/, 'a lost claim');
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
