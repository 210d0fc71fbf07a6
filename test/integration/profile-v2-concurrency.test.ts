import t, { type Test } from 'tap';
import { Cluster } from 'ioredis';
import type { PulseEvent } from '../../src/collection/event.ts';
import { identifierKey, type Identifier } from '../../src/identity/identifier.ts';
import { connectRedis, type RedisClient, type RedisTarget } from '../../src/infra/redis.ts';
import { identifierOwner, profileKeys, tenantKeys } from '../../src/profiles/keys.ts';
import { orderToken, type Applied } from '../../src/profiles/model.ts';
import type { IdentityLimits } from '../../src/profiles/policy.ts';
import { RedisProfileStoreV2, type ProfileStoreV2Stats } from '../../src/profiles/profile-v2.redis.ts';
import { cleanupNamespace, REDIS_URL, uniqueNamespace } from '../support/env.ts';
import { random } from '../support/openrtb-mutations.ts';
import { startRedisCluster } from '../support/redis-cluster.ts';

/*
 * src/profiles/per-profile-layout.md §9 "Concurrency": four RedisProfileStoreV2 instances, each on its own
 * connection, apply 2,000 shuffled events of 40 people at once, each taking the next batch of 1-8
 * events from a shared queue (a failed batch goes back to the queue, as a nak'ed JetStream batch
 * is redelivered). Every event links two identifiers of one person, so profiles are born for the
 * same person on different stores, claims are lost, and merges race. After quiescence:
 *   - one live profile per person, holding exactly its identifiers, every id key pointing at it
 *     (guardrail variant: no profile over the limit, refusals, no identifier listed by a profile
 *     its key does not point at);
 *   - Σ counts = events (each counted once); traits = the offline last-write-wins result;
 *   - no frozen profile, `absorbing` entry or journal entry left; every tombstone chain ends at a
 *     live profile; `merge:<L>` published for every tombstone L and for no live profile.
 * Run on one Redis and on a 3-master Redis Cluster.
 */

const STORES = 4;
const PEOPLE = 40;
const EVENTS = 2000;
const BUCKETS = 8;
const PLANS = ['free', 'pro', 'team', 'enterprise'];
const HOT_ROUNDS = 15;

interface Person { readonly ids: readonly Identifier[] }

function people(userIds: number, count = PEOPLE): Person[] {
  return Array.from({ length: count }, (_, p) => ({
    ids: [
      ...Array.from({ length: userIds }, (_, k): Identifier => ({ type: 'user_id', id: `u${p}-${k}` })),
      { type: 'anonymous_id', id: `a${p}` }, { type: 'idfa', id: `i${p}` }, { type: 'cookie', id: `c${p}` },
    ],
  }));
}

/** `count` events, each on two random identifiers of a random person, shuffled; times distinct. */
function events(seed: number, persons: readonly Person[], count = EVENTS): { events: PulseEvent[]; personOf: Map<string, number> } {
  const next = random(seed);
  const out: PulseEvent[] = [];
  const personOf = new Map<string, number>();
  for (let n = 0; n < count; n++) {
    const p = Math.floor(next() * persons.length);
    const ids = persons[p]?.ids ?? [];
    const a = Math.floor(next() * ids.length);
    const b = (a + 1 + Math.floor(next() * (ids.length - 1))) % ids.length;
    const mid = `c${seed}-${n}`;
    personOf.set(mid, p);
    out.push({
      type: 'track', messageId: mid, timestamp: 1_760_000_000_000 + Math.floor(next() * 1_000_000) * 1000 + n,
      userId: undefined, anonymousId: undefined, event: next() < 0.5 ? 'Viewed' : 'Bought', properties: {},
      traits: next() < 0.6 ? { plan: PLANS[Math.floor(next() * PLANS.length)] ?? 'free' } : {}, context: {},
      identifiers: [ids[a], ids[b]].filter((x): x is Identifier => x !== undefined), extra: {},
    });
  }
  for (let k = out.length - 1; k > 0; k--) {
    const j = Math.floor(next() * (k + 1));
    [out[k], out[j]] = [out[j] as PulseEvent, out[k] as PulseEvent];
  }
  return { events: out, personOf };
}

/** Every key of the namespace matching `pattern` (on each master of a cluster). */
async function keysMatching(redis: RedisClient, pattern: string): Promise<string[]> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const out: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      out.push(...keys);
    } while (cursor !== '0');
  }
  return out;
}

interface Run {
  readonly applied: Map<string, Applied>;
  readonly published: Set<string>;
  readonly redelivered: number;
  readonly ms: number;
  /** The four stores' counters, summed. */
  readonly stats: ProfileStoreV2Stats;
}

/** The four stores, each on its own connection, draining one queue of batches of 1-`maxBatch` events. */
async function drain(target: string | RedisTarget, ns: string, tenant: string, all: readonly PulseEvent[], limits: IdentityLimits | undefined, maxBatch = 8): Promise<Run> {
  const clients = await Promise.all(Array.from({ length: STORES }, (_, k) => connectRedis(target, `concurrency-${k}`)));
  const published = new Set<string>();
  const applied = new Map<string, Applied>();
  const stores: RedisProfileStoreV2[] = [];
  const queue: PulseEvent[][] = [];
  const next = random(all.length);
  for (let k = 0; k < all.length;) {
    const size = 1 + Math.floor(next() * maxBatch);
    queue.push(all.slice(k, k + size));
    k += size;
  }
  let inFlight = 0;
  let redelivered = 0;
  const started = Date.now();
  try {
    await Promise.all(clients.map(async (client) => {
      const store = new RedisProfileStoreV2(client, ns, 3600, {
        ...limits === undefined ? {} : { limits },
        merge: { buckets: BUCKETS, publish: async (_t, m) => { published.add(m.merged); } },
      });
      stores.push(store);
      for (;;) {
        const batch = queue.shift();
        if (batch === undefined) {
          if (inFlight === 0) return;
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        inFlight++;
        try {
          const results = await store.applyEvents(tenant, batch);
          batch.forEach((e, i) => { if (results[i] !== undefined) applied.set(e.messageId, results[i]); });
        } catch {
          // Nak'ed: delivered again later (the events applied already answer dup).
          redelivered++;
          queue.push(batch);
        } finally {
          inFlight--;
        }
      }
    }));
  } finally {
    await Promise.all(clients.map((c) => c.quit()));
  }
  const stats = { ...stores[0]?.stats } as ProfileStoreV2Stats;
  for (const st of stores.slice(1)) for (const k of Object.keys(stats) as (keyof ProfileStoreV2Stats)[]) stats[k] += st.stats[k];
  return { applied, published, redelivered, ms: Date.now() - started, stats };
}

/** Each person has one live profile holding exactly its identifiers, with the last-write-wins `plan`; problems found. */
function onePerPerson(s: Stored, persons: readonly Person[], all: readonly PulseEvent[], personOf: ReadonlyMap<string, number>): string[] {
  const wrong: string[] = [];
  if (s.live.size !== persons.length) wrong.push(`${s.live.size} live profiles for ${persons.length} people`);
  persons.forEach((p, n) => {
    const pid = listedBy(s, p.ids[0]);
    const want = p.ids.map(identifierKey).sort();
    if (pid === undefined || JSON.stringify(s.live.get(pid)?.ids) !== JSON.stringify(want)) wrong.push(`person ${n}: ${JSON.stringify(pid === undefined ? undefined : s.live.get(pid)?.ids)}`);
    // Last write wins: the plan of the person's event with the greatest order token.
    const last = all.filter((e) => personOf.get(e.messageId) === n && e.traits['plan'] !== undefined).sort((a, b) => (orderToken(a) < orderToken(b) ? -1 : 1)).at(-1);
    if (pid !== undefined && s.live.get(pid)?.plan !== last?.traits['plan']) wrong.push(`person ${n}: plan ${s.live.get(pid)?.plan} ≠ ${JSON.stringify(last?.traits['plan'])}`);
  });
  return wrong;
}

function describe(run: Run): string {
  return `${run.ms} ms, ${run.redelivered} batches redelivered; ${Object.entries(run.stats).map(([k, v]) => `${k} ${v}`).join(', ')}`;
}

interface Stored {
  /** Live profiles: pid → identifiers (`type:id`), counts, traits. */
  readonly live: Map<string, { ids: string[]; count: number; plan: string | undefined }>;
  /** Tombstones: pid → into. */
  readonly merged: Map<string, string>;
  readonly frozen: string[];
  readonly absorbing: string[];
  readonly journal: number;
}

async function stored(redis: RedisClient, ns: string, tenant: string): Promise<Stored> {
  const hashes = (await keysMatching(redis, `${ns}:{${tenant}:*}:p`)).filter((k) => /:\{[^}]+:[0-9a-f-]{36}\}:p$/.test(k));
  const live = new Map<string, { ids: string[]; count: number; plan: string | undefined }>();
  const merged = new Map<string, string>();
  const frozen: string[] = [];
  for (const key of hashes) {
    const pid = /:([0-9a-f-]{36})\}:p$/.exec(key)?.[1] ?? '';
    const pk = profileKeys(ns, tenant, pid);
    const [state, into] = await redis.hmget(pk.hash, 'state', 'into');
    if (state === 'merged') merged.set(pid, into ?? '');
    else {
      if (state === 'frozen') frozen.push(pid);
      const counts = await redis.hgetall(pk.counts);
      live.set(pid, {
        ids: (await redis.smembers(pk.ids)).sort(),
        count: Object.values(counts).reduce((n, v) => n + Number(v), 0),
        plan: JSON.parse(await redis.hget(pk.traits, 'plan') ?? 'null') as string | null ?? undefined,
      });
    }
  }
  const absorbing = await keysMatching(redis, `${ns}:{${tenant}:*}:absorbing`);
  let journal = 0;
  for (const key of await keysMatching(redis, `${ns}:{${tenant}:s*}:jobs`)) journal += await redis.zcard(key);
  return { live, merged, frozen, absorbing, journal };
}

/** The checks every variant shares; returns the stored state. */
async function common(t: Test, redis: RedisClient, ns: string, tenant: string, run: Run, all: readonly PulseEvent[], label: string): Promise<Stored> {
  const s = await stored(redis, ns, tenant);
  t.equal(run.applied.size, all.length, `${label}: every event answered`);
  t.equal([...s.live.values()].reduce((n, p) => n + p.count, 0), all.length, `${label}: Σ counts = events (each counted once)`);
  t.same([s.frozen, s.absorbing, s.journal], [[], [], 0], `${label}: no frozen profile, absorbing entry or journal entry left`);
  // What was left over, to tell why.
  for (const key of s.absorbing) {
    const entries = await redis.hgetall(key);
    for (const l of Object.keys(entries)) t.comment(`left over: ${key} ${JSON.stringify(entries)}; loser ${JSON.stringify(await redis.hgetall(profileKeys(ns, tenant, l).hash))}`);
  }
  const broken = [...s.merged.keys()].filter((pid) => {
    let at = pid;
    for (let hops = 0; hops < 64 && s.merged.has(at); hops++) at = s.merged.get(at) ?? '';
    return !s.live.has(at);
  });
  t.same(broken, [], `${label}: every tombstone chain ends at a live profile (${s.merged.size} tombstones)`);
  t.same([...run.published].filter((pid) => !s.merged.has(pid)), [], `${label}: merge:<L> published for tombstones only`);
  t.same([...s.merged.keys()].filter((pid) => !run.published.has(pid)), [], `${label}: merge:<L> published for every tombstone`);
  // Every identifier a live profile lists is keyed to it, and every id key names a live profile that lists it.
  const listed = new Map<string, string>();
  for (const [pid, p] of s.live) for (const idf of p.ids) listed.set(idf, pid);
  const wrong: string[] = [];
  for (const e of all) {
    for (const idf of e.identifiers) {
      const owner = await redis.get(identifierOwner(ns, tenant, idf));
      if (owner === null || listed.get(identifierKey(idf)) !== owner) wrong.push(`${identifierKey(idf)} → ${owner ?? 'nobody'} (listed by ${listed.get(identifierKey(idf)) ?? 'none'})`);
    }
  }
  t.same([...new Set(wrong)], [], `${label}: every id key points at the live profile listing the identifier`);
  return s;
}

async function variant(t: Test, target: string | RedisTarget, check: RedisClient, label: string): Promise<void> {
  const ns = uniqueNamespace('conc');
  t.teardown(async () => { if (typeof target === 'string') await cleanupNamespace(ns); });

  await t.test(`${label}: one profile per person`, async (t) => {
    const tenant = 'plain';
    const persons = people(1);
    const { events: all, personOf } = events(7, persons);
    const run = await drain(target, ns, tenant, all, undefined);
    t.comment(`${label}: ${all.length} events in ${describe(run)}`);
    const s = await common(t, check, ns, tenant, run, all, label);
    t.ok(s.merged.size >= 10, `${label}: profiles were born apart and merged (${s.merged.size} merges)`);
    t.same(onePerPerson(s, persons, all, personOf), [], `${label}: one live profile per person, holding exactly its identifiers, with the last-write-wins traits`);
    const answers = [...run.applied.values()];
    t.ok(answers.some((a) => a.merges.length > 0), `${label}: answers report merges (${answers.filter((a) => a.merges.length > 0).length})`);
  });

  await t.test(`${label}: guardrails (2 user_ids per person, limit 1)`, async (t) => {
    const tenant = 'guard';
    const persons = people(2);
    const { events: all } = events(11, persons);
    const run = await drain(target, ns, tenant, all, { perType: { user_id: 1 }, maxIdentifiers: 100 });
    t.comment(`${label} guardrails: ${all.length} events in ${describe(run)}`);
    const s = await common(t, check, ns, tenant, run, all, `${label} guardrails`);
    const over = [...s.live].filter(([, p]) => p.ids.filter((i) => i.startsWith('user_id:')).length > 1);
    t.same(over, [], `${label}: no profile holds two user_ids`);
    const personOfId = new Map(persons.flatMap((p, n) => p.ids.map((i) => [identifierKey(i), n] as const)));
    const mixed = [...s.live].filter(([, p]) => new Set(p.ids.map((i) => personOfId.get(i))).size > 1);
    t.same(mixed, [], `${label}: no profile mixes people`);
    t.ok(s.live.size >= PEOPLE * 2, `${label}: each person's user_ids stay apart (${s.live.size} profiles)`);
    const refused = [...run.applied.values()].filter((a) => a.refused.length > 0).length;
    const recorded = await check.llen(tenantKeys(ns, tenant).refusedMerges);
    t.ok(refused > 0 && recorded > 0, `${label}: refusals answered (${refused}) and recorded (${recorded})`);
  });

  await t.test(`${label}: hot start (3 people, events of one person applied at once by the four stores)`, async (t) => {
    const total: Record<string, number> = {};
    const problems: string[] = [];
    for (let round = 0; round < HOT_ROUNDS; round++) {
      const tenant = `hot${round}`;
      const persons = people(1, 3);
      const { events: all, personOf } = events(100 + round, persons, 30);
      const run = await drain(target, ns, tenant, all, undefined, 1);
      for (const [k, v] of Object.entries(run.stats) as [string, number][]) total[k] = (total[k] ?? 0) + v;
      const sub = await common(t, check, ns, tenant, run, all, `${label} hot ${round}`);
      problems.push(...onePerPerson(sub, persons, all, personOf).map((p) => `round ${round}: ${p}`));
    }
    t.same(problems, [], `${label}: one live profile per person in every round`);
    t.comment(`${label} hot start: ${Object.entries(total).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    t.ok((total['lostClaims'] ?? 0) > 0, `${label}: claims were lost and planned again (${total['lostClaims']})`);
  });
}

/** The live profile listing an identifier. */
function listedBy(s: Stored, idf: Identifier | undefined): string | undefined {
  if (idf === undefined) return undefined;
  for (const [pid, p] of s.live) if (p.ids.includes(identifierKey(idf))) return pid;
  return undefined;
}

void t.test('single Redis', async (t) => {
  const redis = await connectRedis(REDIS_URL, 'concurrency-check');
  t.teardown(() => redis.quit());
  await variant(t, REDIS_URL, redis, 'single');
});

void t.test('3-master Redis Cluster', async (t) => {
  const cluster = await startRedisCluster(3);
  const target = { url: cluster.url, cluster: true };
  const redis = await connectRedis(target, 'concurrency-check');
  t.teardown(async () => {
    await redis.quit();
    await cluster.stop();
  });
  await variant(t, target, redis, 'cluster');
});
