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
function events(seed: number, persons: readonly Person[], count = EVENTS): PulseEvent[] {
  const next = random(seed);
  const out: PulseEvent[] = [];
  for (let n = 0; n < count; n++) {
    const p = Math.floor(next() * persons.length);
    const ids = persons[p]?.ids ?? [];
    const a = Math.floor(next() * ids.length);
    const b = (a + 1 + Math.floor(next() * (ids.length - 1))) % ids.length;
    const mid = `c${seed}-${n}`;
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
  return out;
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

/**
 * Without guardrails the live profiles are exactly the groups of identifiers the events link
 * (union-find offline; one per person once its events connect its identifiers, which 50 events
 * do but a short round may not), each with the last-write-wins `plan` of its events. Problems found.
 */
function asLinked(s: Stored, all: readonly PulseEvent[]): string[] {
  const parent = new Map<string, string>();
  const find = (k: string): string => {
    let r = k;
    while (parent.get(r) !== undefined && parent.get(r) !== r) r = parent.get(r) ?? r;
    parent.set(k, r);
    return r;
  };
  for (const e of all) {
    const [first, ...rest] = e.identifiers.map(identifierKey);
    if (first === undefined) continue;
    if (!parent.has(first)) parent.set(first, first);
    for (const k of rest) {
      if (!parent.has(k)) parent.set(k, k);
      parent.set(find(k), find(first));
    }
  }
  const groups = new Map<string, { ids: string[]; last: PulseEvent | undefined }>();
  for (const k of parent.keys()) {
    const g = groups.get(find(k)) ?? { ids: [], last: undefined };
    g.ids.push(k);
    groups.set(find(k), g);
  }
  // Last write wins: the plan of the group's event with the greatest order token.
  for (const e of all) {
    const g = groups.get(find(identifierKey(e.identifiers[0] as Identifier)));
    if (g !== undefined && e.traits['plan'] !== undefined && (g.last === undefined || orderToken(g.last) < orderToken(e))) g.last = e;
  }
  const want = [...groups.values()].map((g) => `${g.ids.sort().join(' ')} plan=${JSON.stringify(g.last?.traits['plan'])}`).sort();
  const got = [...s.live.values()].map((p) => `${p.ids.join(' ')} plan=${JSON.stringify(p.plan)}`).sort();
  return [...want.filter((w) => !got.includes(w)).map((w) => `missing ${w}`), ...got.filter((g) => !want.includes(g)).map((g) => `unexpected ${g}`)];
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
      // Nobody's and listed by none: every event carrying it was refused it (guardrails).
      if ((owner ?? undefined) !== listed.get(identifierKey(idf))) wrong.push(`${identifierKey(idf)} → ${owner ?? 'nobody'} (listed by ${listed.get(identifierKey(idf)) ?? 'none'})`);
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
    const all = events(7, persons);
    const run = await drain(target, ns, tenant, all, undefined);
    t.comment(`${label}: ${all.length} events in ${describe(run)}`);
    const s = await common(t, check, ns, tenant, run, all, label);
    t.ok(s.merged.size >= 10, `${label}: profiles were born apart and merged (${s.merged.size} merges)`);
    t.equal(s.live.size, PEOPLE, `${label}: one live profile per person`);
    t.same(asLinked(s, all), [], `${label}: each holding exactly its person's identifiers, with the last-write-wins traits`);
    // Each answer names a profile that lives on in the one holding the event's identifiers.
    const holder = new Map([...s.live].flatMap(([pid, p]) => p.ids.map((i) => [i, pid] as const)));
    const misplaced = all.filter((e) => {
      let at = run.applied.get(e.messageId)?.profileId ?? '';
      for (let hops = 0; hops < 64 && s.merged.has(at); hops++) at = s.merged.get(at) ?? '';
      return at !== holder.get(identifierKey(e.identifiers[0] as Identifier));
    }).map((e) => e.messageId);
    t.same(misplaced, [], `${label}: every answer's profile leads to the person's profile`);
    const answers = [...run.applied.values()];
    t.ok(answers.some((a) => a.merges.length > 0), `${label}: answers report merges (${answers.filter((a) => a.merges.length > 0).length})`);
  });

  await t.test(`${label}: guardrails (2 user_ids per person, limit 1)`, async (t) => {
    const tenant = 'guard';
    const persons = people(2);
    const all = events(11, persons);
    const run = await drain(target, ns, tenant, all, { perType: { user_id: 1 }, maxIdentifiers: 100 });
    t.comment(`${label} guardrails: ${all.length} events in ${describe(run)}`);
    const s = await common(t, check, ns, tenant, run, all, `${label} guardrails`);
    t.same(guarded(s, persons), [], `${label}: no profile holds two user_ids or mixes people`);
    t.ok(s.live.size >= PEOPLE * 2, `${label}: each person's user_ids stay apart (${s.live.size} profiles)`);
    const refused = [...run.applied.values()].filter((a) => a.refused.length > 0).length;
    const recorded = await check.llen(tenantKeys(ns, tenant).refusedMerges);
    t.ok(refused > 0 && recorded > 0, `${label}: refusals answered (${refused}) and recorded (${recorded})`);
  });

  await t.test(`${label}: hot start (3 people, events of one person applied at once by the four stores; odd rounds with the guardrail)`, async (t) => {
    const total: Record<string, number> = {};
    const problems: string[] = [];
    for (let round = 0; round < HOT_ROUNDS; round++) {
      const tenant = `hot${round}`;
      const guard = round % 2 === 1;
      const persons = people(guard ? 2 : 1, 3);
      const all = events(100 + round, persons, 30);
      const run = await drain(target, ns, tenant, all, guard ? { perType: { user_id: 1 }, maxIdentifiers: 100 } : undefined, 1);
      for (const [k, v] of Object.entries(run.stats) as [string, number][]) total[k] = (total[k] ?? 0) + v;
      const sub = await common(t, check, ns, tenant, run, all, `${label} hot ${round}`);
      const found = guard ? guarded(sub, persons) : asLinked(sub, all);
      problems.push(...found.map((p) => `round ${round}: ${p}`));
    }
    t.same(problems, [], `${label}: in plain rounds the live profiles are the groups the events link, in the others none is over the limit or mixes people`);
    t.comment(`${label} hot start: ${Object.entries(total).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    t.ok((total['lostClaims'] ?? 0) > 0, `${label}: claims were lost and planned again (${total['lostClaims']})`);
  });
}

/** Guardrail variant: profiles holding two user_ids, or identifiers of two people. */
function guarded(s: Stored, persons: readonly Person[]): string[] {
  const personOfId = new Map(persons.flatMap((p, n) => p.ids.map((i) => [identifierKey(i), n] as const)));
  return [...s.live].flatMap(([pid, p]) => [
    ...p.ids.filter((i) => i.startsWith('user_id:')).length > 1 ? [`${pid} holds ${p.ids.join(' ')}`] : [],
    ...new Set(p.ids.map((i) => personOfId.get(i))).size > 1 ? [`${pid} mixes people: ${p.ids.join(' ')}`] : [],
  ]);
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
