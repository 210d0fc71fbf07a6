import t from 'tap';
import type { PulseEvent } from '../../src/collection/event.ts';
import type { Identifier } from '../../src/identity/identifier.ts';
import { connectRedis, type RedisClient } from '../../src/infra/redis.ts';
import type { Json, JsonObject } from '../../src/json.ts';
import { parseProfilePolicies, type ProfilePolicies } from '../../src/profiles/policy.ts';
import { RedisProfileStore } from '../../src/profiles/profile.redis.ts';
import { cleanupNamespace, REDIS_URL, uniqueNamespace } from '../support/env.ts';

const ns = uniqueNamespace('pbuild');
let redis: RedisClient;

t.before(async () => {
  redis = await connectRedis(REDIS_URL, 'profile-building-test');
});

t.teardown(async () => {
  await redis.quit();
  await cleanupNamespace(ns);
});

const POLICY_JSON = JSON.stringify({
  '*': {
    signup_source: { policy: 'first' },
    name: { policy: 'priority', priority: ['crm', 'web'] },
    max_score: { policy: 'max' },
    min_price: { policy: 'min' },
    interests: { policy: 'add_to_set' },
    logins: { policy: 'increment' },
    computed: {
      ltv: { sum: 'revenue', event: 'Order Completed' },
      top_category: { mostFrequent: 'category', event: 'Product Viewed' },
    },
  },
});

function policies(): ProfilePolicies {
  const parsed = parseProfilePolicies(POLICY_JSON);
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return parsed.policies;
}

/** A small seeded generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function shuffled<T>(list: readonly T[], random: () => number): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const PEOPLE = 4;
const DEVICES = 3;
const CATEGORIES = ['shoes', 'hats', 'bags'];
const SOURCES = ['crm', 'web', 'app', ''];

/** Events of several people over several devices: anonymous browsing, orders, identifies that link devices. */
function makeEvents(random: () => number): PulseEvent[] {
  const events: PulseEvent[] = [];
  let n = 0;
  const base = 1_760_000_000_000;
  const make = (ids: Identifier[], over: Partial<PulseEvent>): PulseEvent => {
    n++;
    // Coarse times so that several events share a time and the messageId breaks the tie.
    return {
      type: 'track', messageId: `e${String(n).padStart(4, '0')}`, timestamp: base + Math.floor(random() * 20) * 60_000,
      userId: undefined, anonymousId: undefined, event: 'Seen', properties: {}, traits: {}, context: {}, identifiers: ids, extra: {}, ...over,
    };
  };
  for (let p = 0; p < PEOPLE; p++) {
    const user: Identifier = { type: 'user_id', id: `user-${p}` };
    const device = (d: number): Identifier => ({ type: 'anonymous_id', id: `dev-${p}-${d}` });
    for (let d = 0; d < DEVICES; d++) {
      for (let k = 0; k < 4; k++) {
        const category = CATEGORIES[Math.floor(random() * CATEGORIES.length)] ?? 'shoes';
        events.push(make([device(d)], { event: 'Product Viewed', properties: { category } }));
      }
      events.push(make([device(d)], { event: 'Order Completed', properties: { revenue: Math.round(random() * 10_000) / 100 } }));
      const source = SOURCES[Math.floor(random() * SOURCES.length)] ?? '';
      const traits: JsonObject = {
        plan: ['free', 'pro', 'team'][Math.floor(random() * 3)] ?? 'free',
        signup_source: `s${Math.floor(random() * 100)}`,
        name: `${source || 'none'}-${Math.floor(random() * 100)}`,
        max_score: Math.floor(random() * 1000),
        min_price: Math.round(random() * 10_000) / 100,
        interests: [CATEGORIES[Math.floor(random() * 3)] ?? 'x', `i${Math.floor(random() * 5)}`],
        logins: 1 + Math.floor(random() * 3),
      };
      // The identify links this device to the user: a merge whenever the device was seen first.
      events.push(make([user, device(d)], { type: 'identify', event: '', traits, context: source === '' ? {} : { source } }));
      // A device linked to the next device of the same person, through an external id.
      events.push(make([device(d), device((d + 1) % DEVICES), { type: 'cookie', id: `ck-${p}-${d}` }], { event: 'Seen' }));
    }
  }
  return events;
}

/** The expected profile of one person, computed straight from the policies' definitions. */
function expected(events: readonly PulseEvent[], person: number): JsonObject {
  const mine = events.filter((e) => e.identifiers.some((i) => i.id.startsWith(`dev-${person}-`) || i.id === `user-${person}`));
  const byOrder = (a: PulseEvent, b: PulseEvent): number => a.timestamp - b.timestamp || (a.messageId < b.messageId ? -1 : 1);
  const ids = mine.filter((e) => e.type === 'identify').sort(byOrder);
  const rank = (e: PulseEvent): number => ({ crm: 2, web: 1 } as Record<string, number>)[e.context['source'] as string] ?? 0;
  const byPriority = [...ids].sort((a, b) => rank(a) - rank(b) || byOrder(a, b));
  const tr = (e: PulseEvent | undefined, k: string): Json => e?.traits[k] ?? null;
  const nums = (k: string): number[] => ids.map((e) => e.traits[k] as number);
  const counts = new Map<string, number>();
  for (const e of mine) {
    const category = e.properties['category'] as string;
    if (e.event === 'Product Viewed') counts.set(category, (counts.get(category) ?? 0) + 1);
  }
  const top = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0] ?? null;
  const revenue = mine.filter((e) => e.event === 'Order Completed').reduce((s, e) => s + Math.round((e.properties['revenue'] as number) * 1e6), 0) / 1e6;
  return {
    plan: tr(ids.at(-1), 'plan'),
    signup_source: tr(ids[0], 'signup_source'),
    name: tr(byPriority.at(-1), 'name'),
    max_score: Math.max(...nums('max_score')),
    min_price: Math.min(...nums('min_price')),
    interests: [...new Set(ids.flatMap((e) => e.traits['interests'] as string[]))].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)),
    logins: nums('logins').reduce((a, b) => a + b, 0),
    ltv: revenue,
    top_category: top,
  };
}

async function build(tenant: string, events: readonly PulseEvent[], workers: number, batch: number): Promise<JsonObject[]> {
  const conns = await Promise.all(Array.from({ length: workers }, () => connectRedis(REDIS_URL, 'profile-building')));
  try {
    const stores = conns.map((c) => new RedisProfileStore(c, ns, 3600, { policies: policies() }));
    await Promise.all(stores.map(async (store, w) => {
      const share = events.filter((_, i) => i % workers === w);
      for (let i = 0; i < share.length; i += batch) await store.applyEvents(tenant, share.slice(i, i + batch));
    }));
    const store = stores[0];
    if (store === undefined) return [];
    const out: JsonObject[] = [];
    for (let p = 0; p < PEOPLE; p++) {
      const pid = await store.resolve(tenant, [{ type: 'anonymous_id', id: `dev-${p}-0` }]);
      const profile = await store.get(tenant, pid ?? '');
      out.push({
        identifiers: (profile?.identifiers ?? []).map((i) => `${i.type}:${i.id}`),
        traits: profile?.traits ?? {}, eventCounts: profile?.eventCounts ?? {},
        firstSeen: profile?.firstSeen ?? 0, lastSeen: profile?.lastSeen ?? 0,
      });
    }
    return out;
  } finally {
    await Promise.all(conns.map((c) => c.quit()));
  }
}

void t.test('the same events in shuffled orders, batches and workers give identical profiles', async (t) => {
  const events = makeEvents(rng(42));
  // Every event twice: a redelivery must not add to sums, counts or increments.
  const withDuplicates = [...events, ...events.filter((_, i) => i % 3 === 0)];
  const runs: JsonObject[][] = [];
  const orders: [number, number, number][] = [[1, 1, 1], [7, 3, 5], [11, 1, 50], [23, 4, 2], [99, 2, 13]];
  for (const [seed, workers, batch] of orders) {
    runs.push(await build(`order-${seed}`, shuffled(withDuplicates, rng(seed)), workers, batch));
  }
  const first = runs[0];
  for (const [i, run] of runs.entries()) t.same(run, first, `order ${i} matches the first`);
  for (let p = 0; p < PEOPLE; p++) {
    const profile = first?.[p];
    t.same(profile?.['traits'], expected(events, p), `person ${p}: traits follow each policy`);
    const mine = events.filter((e) => e.identifiers.some((i) => i.id.startsWith(`dev-${p}-`)));
    t.same(profile?.['eventCounts'], { 'Product Viewed': DEVICES * 4, 'Order Completed': DEVICES, $identify: DEVICES, Seen: DEVICES }, `person ${p}: counts`);
    t.equal(profile?.['firstSeen'], Math.min(...mine.map((e) => e.timestamp)));
    t.equal((profile?.['identifiers'] as string[]).length, 1 + 2 * DEVICES, `person ${p}: one profile with every identifier`);
  }
});

void t.test('tenants without policies keep last-write-wins; a trait change is reported once', async (t) => {
  const store = new RedisProfileStore(redis, ns, 3600, { policies: new Map([['only-this', { traits: { x: { policy: 'first', priority: [] } }, computed: {} }]]) });
  const ev = (messageId: string, timestamp: number, traits: JsonObject): PulseEvent => ({
    type: 'identify', messageId, timestamp, userId: 'u', anonymousId: undefined, event: '', properties: {}, traits, context: {},
    identifiers: [{ type: 'user_id', id: 'u' }], extra: {},
  });
  const r = await store.applyEvents('plain', [ev('a', 2, { x: 1 }), ev('b', 1, { x: 2 }), ev('c', 3, { x: 3, y: 'same' }), ev('d', 4, { y: 'same' })]);
  t.same(r.map((x) => x.traitChanges), [[{ trait: 'x', value: 1 }], [], [{ trait: 'x', value: 3 }, { trait: 'y', value: 'same' }], []], 'only real changes are reported');
  t.same((await store.get('plain', r[0]?.profileId ?? ''))?.traits, { x: 3, y: 'same' }, 'last write by event time');
  const f = await store.applyEvents('only-this', [ev('a', 2, { x: 1 }), ev('b', 1, { x: 2 }), ev('c', 3, { x: 3 })]);
  t.same((await store.get('only-this', f[0]?.profileId ?? ''))?.traits, { x: 2 }, 'first write by event time, whatever the arrival order');
  const facts = await store.facts('only-this', [f[0]?.profileId ?? '']);
  t.same([...facts.values()][0]?.facts.traits, { x: 2 }, 'facts read the same traits');
});
