import t, { type Test } from 'tap';
import { randomUUID } from 'node:crypto';
import { normalizeEvent, type PulseEvent } from '../../src/collection/event.ts';
import { CONSENT_TRAIT } from '../../src/collection/normalize.ts';
import { identifierKey, type Identifier } from '../../src/identity/identifier.ts';
import { createLogger } from '../../src/infra/log.ts';
import { connectRedis, type RedisClient } from '../../src/infra/redis.ts';
import type { JsonObject } from '../../src/json.ts';
import { DEFAULT_CONSENT_SETTINGS } from '../../src/privacy/consent.ts';
import { isOlder } from '../../src/profiles/identity-plan.ts';
import { identifierOwner, profileKeys } from '../../src/profiles/keys.ts';
import { MergeRunner } from '../../src/profiles/merge.redis.ts';
import { byPriority, type Applied } from '../../src/profiles/model.ts';
import { DEFAULT_IDENTITY_LIMITS, limitArgs, parseProfilePolicies, policyFor, type ProfilePolicies } from '../../src/profiles/policy.ts';
import { applyProfileArgs, applyProfileScript, readApplyProfile, RedisProfileStoreV2 } from '../../src/profiles/profile-v2.redis.ts';
import { RedisProfileStore } from '../../src/profiles/profile.redis.ts';
import type { ProfileStore } from '../../src/profiles/store.ts';
import {
  ProfileUnmerger, type PastMerge, type StoredEvent, type UnmergeDeps, type UnmergeHistory, type UnmergeResult, type UnmergeState,
} from '../../src/profiles/unmerge.ts';
import { RedisUnmergeState } from '../../src/profiles/unmerge.redis.ts';
import { RedisUnmergeStateV2, sweepJournals, type UnmergeStep, type UnmergeStateV2Options } from '../../src/profiles/unmerge-v2.redis.ts';
import { FeatureStoreV2, followMoved } from '../../src/segments/features-v2.redis.ts';
import { RedisFeatureStore } from '../../src/segments/features.redis.ts';
import { features as featuresOf, type FeatureData } from '../../src/segments/features.ts';
import { evaluate, factsFrom } from '../../src/segments/rule.ts';
import { parseRuleText } from '../../src/segments/rule-text.ts';
import type { FeatureStore } from '../../src/segments/store.ts';
import { cleanupNamespace, REDIS_URL, uniqueNamespace } from '../support/env.ts';
import { startRedisCluster } from '../support/redis-cluster.ts';
import { aliceAndBob, UNMERGE_SEGMENTS } from '../support/unmerge-fixtures.ts';

/*
 * Unmerge on the per-profile layout (src/profiles/per-profile-layout.md §3.6, step 9): the scenarios of
 * unmerge.test.ts driven by the same ProfileUnmerger over today's RedisUnmergeState and over
 * RedisUnmergeStateV2, with the same events and the same (in-memory) warehouse history, must give
 * equal normalized sides (identifiers, traits, counts, times, features, segments from the evaluate
 * callback). Then what only v2 has: the unmerge window (U2..U3), a crash after each step U0..U4
 * recovered by completeUnmerge / the journal sweeper, and P and newPid on different cluster masters.
 */

const ns1 = uniqueNamespace('umv1');
const ns2 = uniqueNamespace('umv2');
const TTL = 3600;
const BUCKETS = 8;
const MIN = 60_000;
const base = Date.now() - 24 * 60 * MIN;
const at = (minutes: number): string => new Date(base + minutes * MIN).toISOString();
const log = createLogger('silent');
const SEGMENTS = Object.entries(UNMERGE_SEGMENTS).map(([id, text]) => ({ id, rule: parseRuleText(text) }));
const FEATURES = featuresOf(...SEGMENTS.map((s) => s.rule));
const { household, ALICE, BOB } = aliceAndBob(at);
const id = (type: string, value: string): Identifier => ({ type, id: value });
const bDev = id('anonymous_id', 'b-dev');

let redis: RedisClient;
let policies: ProfilePolicies;

t.before(async () => {
  redis = await connectRedis(REDIS_URL, 'unmerge-v2-test');
  const parsed = parseProfilePolicies(JSON.stringify({ '*': { interests: { policy: 'add_to_set' }, computed: { ltv: { sum: 'revenue', event: 'Purchase' } } } }));
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  policies = parsed.policies;
  v1 = world('v1');
  v2 = world('v2');
});

t.teardown(async () => {
  await redis.quit();
  await cleanupNamespace(ns1);
  await cleanupNamespace(ns2);
});

function event(raw: Record<string, unknown>): PulseEvent {
  const r = normalizeEvent(raw, Date.now());
  if (!r.ok) throw new Error(r.problem.reason);
  return r.event;
}

/** The warehouse as ProfileUnmerger reads it: one row per messageId with the profile it was stored under. */
class MemoryHistory implements UnmergeHistory {
  readonly rows = new Map<string, StoredEvent>();
  readonly pastMerges: PastMerge[] = [];

  store(e: PulseEvent, profileId: string): void {
    this.rows.set(e.messageId, {
      messageId: e.messageId, type: e.type, event: e.event, userId: e.userId ?? '', anonymousId: e.anonymousId ?? '', at: e.timestamp,
      properties: JSON.stringify(e.properties), traits: JSON.stringify(e.traits), context: JSON.stringify(e.context),
      identifiers: e.identifiers.map(identifierKey), profileId,
    });
  }

  merges(_tenant: string, profileId: string): Promise<PastMerge[]> {
    const into = new Set([profileId]);
    const out: PastMerge[] = [];
    for (let grew = true; grew;) {
      grew = false;
      for (const m of this.pastMerges) {
        if (into.has(m.survivor) && !into.has(m.merged)) {
          into.add(m.merged);
          out.push(m);
          grew = true;
        }
      }
    }
    return Promise.resolve(out);
  }

  events(_tenant: string, profileIds: readonly string[]): Promise<StoredEvent[]> {
    return Promise.resolve([...this.rows.values()].filter((r) => profileIds.includes(r.profileId)).sort((a, b) => a.at - b.at));
  }

  reattribute(_tenant: string, from: readonly string[], to: string, messageIds: readonly string[]): Promise<void> {
    for (const mid of messageIds) {
      const r = this.rows.get(mid);
      if (r !== undefined && from.includes(r.profileId)) this.rows.set(mid, { ...r, profileId: to });
    }
    return Promise.resolve();
  }

  record(): Promise<void> { return Promise.resolve(); }
  traitHistory(): Promise<void> { return Promise.resolve(); }
}

/** One layout's stores, history and segment memberships (what the evaluate callback computed). */
interface World {
  readonly layout: 'v1' | 'v2';
  readonly redis: RedisClient;
  readonly namespace: string;
  readonly profiles: ProfileStore;
  readonly features: FeatureStore;
  readonly history: MemoryHistory;
  readonly segments: Map<string, string[]>;
  readonly state: UnmergeState;
  /** v2 only. */
  readonly runner?: MergeRunner;
  readonly v2?: RedisUnmergeStateV2;
  /** Applies events as the processor would (v2: links merged with MergeRunner), stores them in the history. */
  ingest(tenant: string, events: readonly PulseEvent[]): Promise<Applied[]>;
  /** Reasons of the links refused so far, in order. */
  readonly refusals: string[];
}

function world(layout: 'v1' | 'v2', client: RedisClient = redis, namespace = layout === 'v1' ? ns1 : ns2, v2Options: Partial<UnmergeStateV2Options> = {}): World {
  const history = new MemoryHistory();
  const refusals: string[] = [];
  const record = (e: PulseEvent, a: Applied): void => {
    for (const m of a.merges) history.pastMerges.push({ merged: m.merged, survivor: m.survivor, identifiers: m.identifiers.map(identifierKey) });
    if (!a.duplicate) {
      refusals.push(...a.refused.map((r) => r.reason));
      history.store(e, a.profileId);
    }
  };
  if (layout === 'v1') {
    const profiles = new RedisProfileStore(client, namespace, TTL, { policies });
    const features = new RedisFeatureStore(client, namespace, TTL);
    return {
      layout, redis: client, namespace, profiles, features, history, segments: new Map(), refusals, state: new RedisUnmergeState(client, namespace, { policies }),
      ingest: async (tenant, events) => {
        const out: Applied[] = [];
        for (const e of events) {
          const [a] = await profiles.applyEvents(tenant, [e]);
          if (a === undefined) throw new Error('no result');
          await features.record(tenant, [{ profileId: a.profileId, messageId: e.messageId, event: e.type === 'track' ? e.event : `$${e.type}`, properties: e.properties, at: e.timestamp }], FEATURES, Date.now());
          record(e, a);
          out.push(a);
        }
        return out;
      },
    };
  }
  // The store runs merges itself once step 5 is wired into it (the `merge` option); until then they are run below.
  const storeOptions = { policies, merge: { buckets: BUCKETS } };
  const profiles = new RedisProfileStoreV2(client, namespace, TTL, storeOptions);
  const features = new FeatureStoreV2(client, namespace, TTL);
  const runner = new MergeRunner(client, namespace, { buckets: BUCKETS, policy: policyFor(policies, 'acme') });
  const v2 = new RedisUnmergeStateV2(client, namespace, { buckets: BUCKETS, dedupTtlSeconds: TTL, policies, ...v2Options });
  const live = async (tenant: string, idf: Identifier): Promise<{ pid: string; created: number } | undefined> => {
    const pid = await profiles.resolve(tenant, [idf]);
    if (pid === undefined) return undefined;
    return { pid, created: Number(await client.hget(profileKeys(namespace, tenant, pid).hash, 'created')) };
  };
  const applyOne = async (tenant: string, e: PulseEvent): Promise<Applied> => {
    for (let tries = 0; tries < 3; tries++) {
      try {
        const [a] = await profiles.applyEvents(tenant, [e]);
        if (a === undefined) throw new Error('no result');
        return a;
      } catch (err) {
        if (!(err instanceof Error) || !err.message.includes('needs step 5')) throw err;
      }
      // The store does not merge yet (step 5 is wired elsewhere): the link is merged here, older profile surviving.
      const owners = new Map<string, { pid: string; created: number }>();
      for (const idf of e.identifiers) {
        const o = await live(tenant, idf);
        if (o !== undefined) owners.set(o.pid, o);
      }
      const [survivor, ...losers] = [...owners.values()].sort((a, b) => (isOlder(a, b) ? -1 : 1));
      for (const l of losers) {
        const outcome = await runner.merge(tenant, { survivor: survivor?.pid ?? '', loser: l.pid, messageId: e.messageId });
        if (outcome.status === 'merged') history.pastMerges.push({ merged: l.pid, survivor: outcome.merge.survivor, identifiers: outcome.merge.identifiers.map(identifierKey) });
        // A refused link (the two were unmerged): the event goes to the first profile of its identifiers, as apply-event.lua does.
        if (outcome.status === 'refused') {
          refusals.push(outcome.reason);
          return applyOn(tenant, survivor?.pid ?? '', e);
        }
      }
    }
    throw new Error(`event ${e.messageId} kept needing merges`);
  };
  const applyScript = applyProfileScript(client);
  const applyOn = async (tenant: string, pid: string, e: PulseEvent): Promise<Applied> => {
    const first = await profiles.resolve(tenant, byPriority(e.identifiers).slice(0, 1));
    const r = readApplyProfile(await applyScript.run([profileKeys(namespace, tenant, first ?? pid).prefix], applyProfileArgs(policyFor(policies, tenant), limitArgs(DEFAULT_IDENTITY_LIMITS), TTL, {
      event: e, birth: false, via: undefined, attach: [], refused: [], merges: [],
    })));
    if (r.status !== 'new' && r.status !== 'dup') throw new Error(`apply answered ${r.status}`);
    return r.applied;
  };
  return {
    layout, redis: client, namespace, profiles, features, history, segments: new Map(), state: v2, runner, v2, refusals,
    ingest: async (tenant, events) => {
      const out: Applied[] = [];
      for (const e of events) {
        const a = await applyOne(tenant, e);
        await features.record(tenant, [{ profileId: a.profileId, messageId: e.messageId, event: e.type === 'track' ? e.event : `$${e.type}`, properties: e.properties, at: e.timestamp }], FEATURES, Date.now());
        record(e, a);
        out.push(a);
      }
      return out;
    },
  };
}

function unmergerFor(w: World, state: UnmergeState = w.state, extra: Partial<UnmergeDeps> = {}): ProfileUnmerger {
  return new ProfileUnmerger({
    state, history: w.history,
    features: () => Promise.resolve(FEATURES),
    // Segments from the rules over what the stores hold: the membership each side ends in.
    evaluate: async (tenant, targets) => {
      const now = Date.now();
      for (const pid of targets.keys()) {
        const facts = (await w.profiles.facts(tenant, [pid])).get(pid);
        const features = (await w.features.read(tenant, [pid], FEATURES, now)).get(pid);
        const f = factsFrom({ ...facts?.facts ?? { traits: {}, eventCounts: {} }, features: features ?? new Map() }, now);
        w.segments.set(pid, SEGMENTS.filter((s) => evaluate(s.rule, f)).map((s) => s.id).sort());
      }
      return [];
    },
    publishSegmentChanges: () => Promise.resolve(), publishProfileChange: () => Promise.resolve(), indexProfiles: () => Promise.resolve(),
    consent: DEFAULT_CONSENT_SETTINGS, log, ...extra,
  });
}

/** A side as both layouts must agree on it (profile ids aside). */
async function side(w: World, tenant: string, pid: string): Promise<JsonObject> {
  const p = await w.profiles.get(tenant, pid);
  if (p === undefined) throw new Error(`no profile ${pid}`);
  const features = (await w.features.read(tenant, [pid], FEATURES, Date.now())).get(pid) ?? new Map<string, FeatureData>();
  return JSON.parse(JSON.stringify({
    identifiers: p.identifiers.map(identifierKey).sort(), traits: p.traits, eventCounts: p.eventCounts, firstSeen: p.firstSeen, lastSeen: p.lastSeen,
    segments: w.segments.get(pid) ?? null, features: Object.fromEntries([...features].sort(([a], [b]) => a.localeCompare(b))),
  })) as JsonObject;
}

/** The parts of a result both layouts agree on. */
function resultOf(r: UnmergeResult): JsonObject {
  return {
    profileIdentifiers: r.profileIdentifiers.map(identifierKey), splitIdentifiers: r.splitIdentifiers.map(identifierKey),
    events: [r.eventsProfile, r.eventsSplit, r.eventsSkipped], attempts: r.attempts, warnings: [...r.warnings],
  };
}

const unmergeOptions = { allowPartialHistory: false, keyId: 'test' };
let v1: World;
let v2: World;
const fused = [...ALICE, ...BOB].map(event);

/** The v2 state an unmerge must leave clean: no movedout, no journal entry, id keys at their sides. */
async function clean(t: Test, w: World, tenant: string, pid: string, newPid: string, split: readonly Identifier[], stay: readonly Identifier[]): Promise<void> {
  const v2s = w.v2;
  if (v2s === undefined) throw new Error('v2 only');
  t.same(await w.redis.hgetall(profileKeys(w.namespace, tenant, pid).movedout), {}, 'movedout is empty');
  t.same(await w.redis.zrange(v2s.journalKey(tenant, pid), 0, -1), [], 'the journal entry is gone');
  for (const idf of split) t.equal(await w.redis.get(identifierOwner(w.namespace, tenant, idf)), newPid, `${identifierKey(idf)} points at the new profile`);
  for (const idf of stay) t.equal(await w.redis.get(identifierOwner(w.namespace, tenant, idf)), pid, `${identifierKey(idf)} stays`);
  t.same(await w.redis.smembers(profileKeys(w.namespace, tenant, newPid).nomerge), [pid], 'B never merges with P');
  t.ok((await w.redis.smembers(profileKeys(w.namespace, tenant, pid).nomerge)).includes(newPid), 'nor P with B');
}

let alice = { v1: '', v2: '' };
/** Both sides of the first unmerge on v2 (equal to v1's), for the cluster case. */
let firstSides: { a: JsonObject; b: JsonObject } = { a: {}, b: {} };
let bob = { v1: '', v2: '' };

void t.test('Alice and Bob fused through the household cookie, unmerged: v2 sides equal v1 sides', async (t) => {
  const [r1, r2] = await Promise.all([v1.ingest('acme', fused), v2.ingest('acme', fused)]);
  const bobBefore = { v1: r1[4]?.profileId ?? '', v2: r2[4]?.profileId ?? '' };
  alice = { v1: r1[0]?.profileId ?? '', v2: r2[0]?.profileId ?? '' };
  t.equal(await v2.profiles.resolve('acme', [bDev]), alice.v2, 'v2: Bob lives in Alice\'s profile');
  t.same(await side(v2, 'acme', alice.v2), await side(v1, 'acme', alice.v1), 'fused alike');
  const [u1, u2] = [
    await unmergerFor(v1).unmerge('acme', alice.v1, [bDev], unmergeOptions),
    await unmergerFor(v2).unmerge('acme', alice.v2, [bDev], unmergeOptions),
  ];
  bob = { v1: u1.splitProfileId, v2: u2.splitProfileId };
  t.equal(u2.profileId, alice.v2, 'the profile keeps its id');
  t.same(resultOf(u2), resultOf(u1));
  t.same(resultOf(u2).events, [4, 4, 0]);
  const [a2, b2] = [await side(v2, 'acme', alice.v2), await side(v2, 'acme', bob.v2)];
  t.same(a2, await side(v1, 'acme', alice.v1), 'Alice\'s side');
  firstSides = { a: a2, b: b2 };
  t.ok(Object.keys(a2['features'] as JsonObject).length > 0 && Object.keys(b2['features'] as JsonObject).length > 0, 'both sides have feature data to compare');
  t.same(b2, await side(v1, 'acme', bob.v1), 'Bob\'s side');
  t.same([a2['traits'], a2['segments']], [{ name: 'Alice', interests: ['golf'], ltv: 120 }, ['big_spender', 'searcher']]);
  t.same([b2['traits'], b2['segments'], b2['identifiers']], [{ name: 'Bob', city: 'Oslo', interests: ['chess'], ltv: 55 }, ['buyer', 'oslo', 'searcher'], ['anonymous_id:b-dev']]);
  await clean(t, v2, 'acme', alice.v2, bob.v2, [bDev], [id('user_id', 'alice'), id('cookie', 'household-1')]);
  t.equal((await v2.profiles.get('acme', bobBefore.v2))?.id, bob.v2, 'Bob\'s tombstone from before the fusion reads as his profile again');
  t.equal((await v1.profiles.get('acme', bobBefore.v1))?.id, bob.v1, '(as on v1)');
  const bk = profileKeys(ns2, 'acme', bob.v2);
  t.same((await redis.zrange(bk.seen, 0, -1)).sort(), ['b1', 'b2', 'b3', 'b4', 'f|b1', 'f|b2', 'f|b3', 'f|b4'], 'B\'s de-dup holds the moved events');
  t.ok(await redis.pttl(bk.seen) > (TTL - 60) * 1000, 'for the de-dup TTL');
  t.equal(await redis.hget(bk.hash, 'unmerge_of'), alice.v2);
  for (const pid of [alice.v2, bob.v2]) {
    const pk = profileKeys(ns2, 'acme', pid);
    t.same(await Promise.all([pk.traits, pk.tord, pk.counts, pk.computed, pk.hash].map((k) => redis.pttl(k))), [-1, -1, -1, -1, -1], 'rebuilt state does not expire');
  }
  const left = await redis.keys(`${ns2.slice(0, 16)}_um*`);
  t.same(left, [], 'no scratch key is left');
  // Redelivered events count once, on the side they belong to.
  const redelivered = fused.filter((e) => ['a2', 'b1', 'b2'].includes(e.messageId));
  const again = await Promise.all([v1.ingest('acme', redelivered), v2.ingest('acme', redelivered)]);
  t.same(again[1].map((a) => [a.duplicate, a.profileId === alice.v2 ? 'alice' : a.profileId === bob.v2 ? 'bob' : a.profileId]), [[true, 'alice'], [true, 'bob'], [true, 'bob']]);
  t.same(again[0].map((a) => [a.duplicate, a.profileId === alice.v1 ? 'alice' : a.profileId === bob.v1 ? 'bob' : a.profileId]), [[true, 'alice'], [true, 'bob'], [true, 'bob']]);
  t.same(await side(v2, 'acme', bob.v2), b2, 'nothing counted twice');
});

void t.test('the two never merge again: a later link is refused (nomerge)', async (t) => {
  const later = [
    event({ type: 'track', messageId: 'c1', anonymousId: 'b-dev', event: 'Visit', context: household, timestamp: at(80) }),
    event({ type: 'identify', messageId: 'c2', userId: 'alice', anonymousId: 'b-dev', traits: { name: 'Alice B.' }, timestamp: at(81) }),
  ];
  const r1 = await v1.ingest('acme', later);
  const r2 = await v2.ingest('acme', later);
  t.same(r1.flatMap((a) => a.refused.map((r) => r.reason)), ['unmerged', 'unmerged'], 'v1 refuses both links');
  t.same(v2.refusals, ['unmerged', 'unmerged'], 'v2 refuses both (merge-accept.lua reads nomerge)');
  t.equal(await v2.profiles.resolve('acme', [bDev]), bob.v2);
  t.equal(await v2.profiles.resolve('acme', [id('cookie', 'household-1')]), alice.v2);
  t.same(r2.map((a) => a.profileId === alice.v2 ? 'alice' : 'bob'), r1.map((a) => a.profileId === alice.v1 ? 'alice' : 'bob'), 'each event landed on the same side as on v1');
  t.equal((await v2.profiles.get('acme', bob.v2))?.eventCounts['Visit'], 1);
  t.equal((await v2.profiles.get('acme', alice.v2))?.traits['name'], 'Alice B.');
});

/** `state` with `beforeSwap` run before each swap, and the replays told their profile ids. */
function racing(state: UnmergeState, beforeSwap: () => Promise<void>): UnmergeState {
  return {
    snapshot: (tenant, pid) => state.snapshot(tenant, pid),
    traits: (tenant, pids) => state.traits(tenant, pids),
    repointDedup: (tenant, ids, pid) => state.repointDedup(tenant, ids, pid),
    scratch: (tenant) => {
      const inner = state.scratch(tenant);
      return {
        namespace: inner.namespace,
        replay: (s, events, features, now, pid) => inner.replay(s, events, features, now, pid),
        discard: () => inner.discard(),
        swap: async (req) => {
          await beforeSwap();
          return inner.swap(req);
        },
      };
    },
  };
}

void t.test('an event applied during the rebuild is not lost: the rebuild is redone (U2 answers changed, U1\'s B goes)', async (t) => {
  const dave = [
    event({ type: 'identify', messageId: 'e1', userId: 'dave', traits: { name: 'Dave' }, timestamp: at(100) }),
    event({ type: 'track', messageId: 'e2', userId: 'dave', event: 'Purchase', properties: { revenue: 10 }, context: { externalIds: [{ type: 'cookie', id: 'tablet' }] }, timestamp: at(101) }),
    event({ type: 'track', messageId: 'e3', anonymousId: 'erin-phone', event: 'Purchase', properties: { revenue: 7 }, context: { externalIds: [{ type: 'cookie', id: 'tablet' }] }, timestamp: at(102) }),
  ];
  const late = event({ type: 'identify', messageId: 'e4', anonymousId: 'erin-phone', traits: { name: 'Erin' }, timestamp: at(103) });
  const out: JsonObject[] = [];
  for (const w of [v1, v2]) {
    const [d] = await w.ingest('acme', dave);
    const davePid = d?.profileId ?? '';
    let injected = false;
    let swaps = 0;
    const state = racing(w.state, async () => {
      swaps++;
      if (injected) return;
      injected = true;
      await w.ingest('acme', [late]);
    });
    const r = await unmergerFor(w, state).unmerge('acme', davePid, [id('anonymous_id', 'erin-phone')], unmergeOptions);
    t.equal(swaps, 2, `${w.layout}: swapped twice`);
    out.push({ result: resultOf(r), dave: await side(w, 'acme', davePid), erin: await side(w, 'acme', r.splitProfileId) });
    if (w.layout === 'v2') {
      await clean(t, w, 'acme', davePid, r.splitProfileId, [id('anonymous_id', 'erin-phone')], [id('user_id', 'dave'), id('cookie', 'tablet')]);
      t.same((await redis.zrange(profileKeys(ns2, 'acme', r.splitProfileId).seen, 0, -1)).filter((m) => !m.startsWith('f|')).sort(), ['e3', 'e4'], 'the redo\'s B has the late event\'s de-dup too');
    }
  }
  t.same(out[1], out[0], 'v2 = v1');
  t.match(out[1], { result: { attempts: 2, events: [2, 2, 0] }, erin: { traits: { name: 'Erin', ltv: 7 }, eventCounts: { Purchase: 1, $identify: 1 } } });
});

void t.test('a profile whose history the warehouse lacks is not rebuilt unless asked', async (t) => {
  const out: JsonObject[] = [];
  for (const w of [v1, v2]) {
    const e = event({ type: 'track', messageId: 'f1', userId: 'frank', event: 'Visit', context: { externalIds: [{ type: 'cookie', id: 'frank-c' }] }, timestamp: at(110) });
    const [a] = await w.ingest('acme', [e]);
    w.history.rows.delete('f1');
    const pid = a?.profileId ?? '';
    const unmerger = unmergerFor(w, w.state, { historyWaitMs: 300 });
    await t.rejects(unmerger.unmerge('acme', pid, [id('cookie', 'frank-c')], unmergeOptions), { code: 'FAILED_PRECONDITION', message: /the warehouse holds 0 of the 1 events/ });
    const r = await unmerger.unmerge('acme', pid, [id('cookie', 'frank-c')], { allowPartialHistory: true, keyId: 'test' });
    // Sides without events are stamped with the time of the swap.
    const timeless = (s: JsonObject): JsonObject => ({ ...s, firstSeen: null, lastSeen: null });
    out.push({ result: resultOf(r), frank: timeless(await side(w, 'acme', pid)), split: timeless(await side(w, 'acme', r.splitProfileId)) });
  }
  t.same(out[1], out[0], 'v2 = v1');
  t.match(out[1], { result: { events: [0, 0, 0] }, frank: { eventCounts: {} } });
});

void t.test('a profile merged into an older one during the rebuild: the unmerge follows it there (U2 answers merged)', async (t) => {
  const carol = event({ type: 'track', messageId: 'k0', anonymousId: 'carol-dev', event: 'Visit', timestamp: at(-100) });
  const link = event({ type: 'track', messageId: 'k1', userId: 'alice', anonymousId: 'carol-dev', event: 'Visit', timestamp: at(75) });
  const out: JsonObject[] = [];
  for (const w of [v1, v2]) {
    const pid = await fuse(w, 'follow');
    const [c] = await w.ingest('follow', [carol]);
    let linked = false;
    const state = racing(w.state, async () => {
      if (linked) return;
      linked = true;
      await w.ingest('follow', [link]);
    });
    const r = await unmergerFor(w, state).unmerge('follow', pid, [bDev], unmergeOptions);
    t.equal(r.profileId, c?.profileId, `${w.layout}: the unmerge happened on the survivor`);
    t.not(r.profileId, pid);
    out.push({ result: resultOf(r), a: await side(w, 'follow', r.profileId), b: await side(w, 'follow', r.splitProfileId) });
    if (w.layout === 'v2') {
      await clean(t, w, 'follow', r.profileId, r.splitProfileId, [bDev], [id('user_id', 'alice'), id('anonymous_id', 'carol-dev')]);
      t.same(await redis.keys(`${ns2.slice(0, 16)}_um*`), [], 'the first scratch space was discarded too');
    }
  }
  t.same(out[1], out[0], 'v2 = v1');
  t.match(out[1], { result: { events: [6, 4, 0] }, a: { identifiers: ['anonymous_id:a-dev', 'anonymous_id:carol-dev', 'cookie:household-1', 'user_id:alice'] } });
});

/** A fused Alice+Bob of its own in `tenant` on `w`; returns Alice's pid. */
async function fuse(w: World, tenant: string): Promise<string> {
  const r = await w.ingest(tenant, fused);
  return r[0]?.profileId ?? '';
}

void t.test('between U2 and U3 an event through a split identifier lands on the new profile', async (t) => {
  const applyScript = applyProfileScript(redis);
  const seen: string[] = [];
  let hooked = '';
  const w = world('v2', redis, ns2, {
    afterStep: async (step) => {
      if (step !== 'U2') return;
      // The id key still names P; P answers moved to the new profile, which takes the event.
      t.equal(await redis.get(identifierOwner(ns2, 'window', bDev)), hooked, 'the id key has not moved yet');
      const e = event({ type: 'track', messageId: 'w1', anonymousId: 'b-dev', event: 'Purchase', properties: { revenue: 1 }, timestamp: at(65) });
      const { pid, answer } = await followMoved(hooked, async (p) => {
        const r = await applyScript.run([profileKeys(ns2, 'window', p).prefix], applyProfileArgs(policyFor(policies, 'window'), limitArgs(DEFAULT_IDENTITY_LIMITS), TTL, {
          event: e, birth: false, via: bDev, attach: [], refused: [], merges: [],
        }));
        seen.push(p === hooked ? 'P' : 'B');
        return r;
      });
      t.equal(readApplyProfile(answer).status, 'new');
      seen.push(pid === hooked ? 'applied on P' : 'applied on B');
    },
  });
  hooked = await fuse(w, 'window');
  const r = await unmergerFor(w).unmerge('window', hooked, [bDev], unmergeOptions);
  t.same(seen, ['P', 'B', 'applied on B'], 'moved from P to B, applied there');
  t.same((await w.profiles.get('window', r.splitProfileId))?.eventCounts, { $identify: 1, Purchase: 3, Search: 1 }, 'B counts it');
  t.same((await w.profiles.get('window', hooked))?.eventCounts, { $identify: 1, Purchase: 1, $page: 1, Search: 1 }, 'P does not');
  await clean(t, w, 'window', hooked, r.splitProfileId, [bDev], [id('user_id', 'alice')]);
});

/** What a tenant's profiles hold after an unmerge, normalized: both sides plus where the identifiers point. */
async function outcome(w: World, tenant: string, pid: string, newPid: string): Promise<JsonObject> {
  const owners: JsonObject = {};
  for (const idf of ['user_id:alice', 'anonymous_id:a-dev', 'anonymous_id:b-dev', 'cookie:household-1']) {
    const [type = '', value = ''] = [idf.slice(0, idf.indexOf(':')), idf.slice(idf.indexOf(':') + 1)];
    const o = await w.redis.get(identifierOwner(w.namespace, tenant, id(type, value)));
    owners[idf] = o === pid ? 'P' : o === newPid ? 'B' : o;
  }
  const strip = (s: JsonObject): JsonObject => ({ ...s, segments: null });
  return { a: strip(await side(w, tenant, pid)), b: strip(await side(w, tenant, newPid)), owners, movedout: await w.redis.hlen(profileKeys(w.namespace, tenant, pid).movedout) };
}

void t.test('a crash after each of U0..U4, recovered by completeUnmerge, ends as if there was none', async (t) => {
  const plain = world('v2');
  const pid0 = await fuse(plain, 'nocrash');
  const r0 = await unmergerFor(plain).unmerge('nocrash', pid0, [bDev], unmergeOptions);
  const want = await outcome(plain, 'nocrash', pid0, r0.splitProfileId);
  t.same(want['owners'], { 'user_id:alice': 'P', 'anonymous_id:a-dev': 'P', 'anonymous_id:b-dev': 'B', 'cookie:household-1': 'P' });
  for (const step of ['U0', 'U1', 'U2', 'U3', 'U4'] as const) {
    await t.test(`crash after ${step}`, async (t) => {
      const tenant = `crash${step.toLowerCase()}`;
      let crash: UnmergeStep | undefined = step;
      const w = world('v2', redis, ns2, {
        leaseMs: 0,
        afterStep: (s) => { if (s === crash) throw new Error(`crash after ${s}`); },
      });
      const pid = await fuse(w, tenant);
      const before = await side(w, tenant, pid);
      const newPid = randomUUID();
      await t.rejects(unmergerFor(w, w.state, { newProfileId: () => newPid }).unmerge(tenant, pid, [bDev], unmergeOptions), { message: `crash after ${step}` });
      crash = undefined;
      const v2s = w.v2;
      if (v2s === undefined) throw new Error('v2');
      const swept = await sweepJournals(redis, ns2, tenant, { buckets: BUCKETS, leaseMs: 0 }, { merges: w.runner ?? plainRunner(), unmerges: v2s });
      const done = swept.unmerges.get(pid);
      if (step === 'U4') {
        t.equal(done, undefined, 'nothing journaled after U4');
      } else {
        t.same(done, [{ status: step === 'U0' || step === 'U1' ? 'undone' : 'finished', splitProfileId: newPid }], 'the sweeper found the unmerge in the journal');
      }
      t.same(await v2s.completeUnmerge(tenant, pid), [], 'a second recovery finds nothing');
      let splitPid: string = newPid;
      if (step === 'U0' || step === 'U1') {
        t.equal(await redis.exists(profileKeys(ns2, tenant, newPid).hash), 0, 'the unreachable B is gone');
        t.same({ ...await side(w, tenant, pid), segments: null }, { ...before, segments: null }, 'P is as before the unmerge');
        // The caller got an error: it asks again.
        splitPid = (await unmergerFor(w).unmerge(tenant, pid, [bDev], unmergeOptions)).splitProfileId;
      }
      t.same(await outcome(w, tenant, pid, splitPid), want, 'the same state as without the crash');
      const again = await w.ingest(tenant, fused.filter((e) => e.messageId !== 'b3'));
      t.ok(again.every((a) => a.duplicate), 'every event redelivered is a duplicate');
      t.same(await outcome(w, tenant, pid, splitPid), want, 'counted once');
      t.same(await redis.zrange(v2s.journalKey(tenant, pid), 0, -1), [], 'journal empty');
    });
  }
});

void t.test('a crash after U2, then P merged into an older profile before the sweeper comes: B keeps the split identifier', async (t) => {
  let crash = true;
  const w = world('v2', redis, ns2, { leaseMs: 0, afterStep: (s) => { if (crash && s === 'U2') throw new Error('crash after U2'); } });
  const pid = await fuse(w, 'crashmerged');
  const [c] = await w.ingest('crashmerged', [event({ type: 'track', messageId: 'k0', anonymousId: 'carol-dev', event: 'Visit', timestamp: at(-100) })]);
  const newPid = randomUUID();
  await t.rejects(unmergerFor(w, w.state, { newProfileId: () => newPid }).unmerge('crashmerged', pid, [bDev], unmergeOptions));
  crash = false;
  await w.ingest('crashmerged', [event({ type: 'track', messageId: 'k1', userId: 'alice', anonymousId: 'carol-dev', event: 'Visit', timestamp: at(75) })]);
  t.equal(await redis.hget(profileKeys(ns2, 'crashmerged', pid).hash, 'state'), 'merged', 'P is a tombstone now');
  t.same(await w.v2?.completeUnmerge('crashmerged', pid), [{ status: 'finished', splitProfileId: newPid }]);
  t.equal(await redis.get(identifierOwner(ns2, 'crashmerged', bDev)), newPid, 'the split identifier went to B, not to P\'s survivor');
  t.equal(await w.profiles.resolve('crashmerged', [id('user_id', 'alice')]), c?.profileId);
  t.same((await w.profiles.get('crashmerged', newPid))?.eventCounts, { $identify: 1, Purchase: 2, Search: 1 });
  t.same(await redis.zrange(w.v2?.journalKey('crashmerged', pid) ?? '', 0, -1), []);
});

function plainRunner(): MergeRunner {
  return new MergeRunner(redis, ns2, { buckets: BUCKETS });
}

void t.test('a sweeper that takes back an unmerge whose driver is only slow (between U1 and U2) fences it off: the driver rebuilds', async (t) => {
  let recovered: unknown;
  let pid = '';
  const w: World = world('v2', redis, ns2, {
    leaseMs: 0,
    afterStep: async (s) => {
      if (s !== 'U1' || recovered !== undefined) return;
      recovered = await w.v2?.completeUnmerge('slow', pid);
    },
  });
  pid = await fuse(w, 'slow');
  const r = await unmergerFor(w).unmerge('slow', pid, [bDev], unmergeOptions);
  t.match(recovered, [{ status: 'undone', splitProfileId: r.splitProfileId }], 'the sweeper fenced P and dropped B');
  t.equal(r.attempts, 2, 'the driver\'s U2 found P changed and rebuilt');
  t.same({ ...await side(w, 'slow', pid), segments: null }, { ...firstSides.a, segments: null });
  t.same({ ...await side(w, 'slow', r.splitProfileId), segments: null }, { ...firstSides.b, segments: null });
  await clean(t, w, 'slow', pid, r.splitProfileId, [bDev], [id('user_id', 'alice'), id('cookie', 'household-1')]);
});

void t.test('a consent record P gets between U1 and U2 (no event, so no version change) is kept on both sides', async (t) => {
  const refusal = { order: '9999999999999|zz', value: JSON.stringify({ ads: false }) };
  let pid = '';
  const w = world('v2', redis, ns2, {
    afterStep: async (s) => {
      if (s !== 'U1') return;
      const pk = profileKeys(ns2, 'consent', pid);
      await redis.hset(pk.traits, CONSENT_TRAIT, refusal.value);
      await redis.hset(pk.tord, CONSENT_TRAIT, refusal.order);
    },
  });
  pid = await fuse(w, 'consent');
  const r = await unmergerFor(w).unmerge('consent', pid, [bDev], unmergeOptions);
  for (const p of [pid, r.splitProfileId]) {
    const pk = profileKeys(ns2, 'consent', p);
    t.same([await redis.hget(pk.traits, CONSENT_TRAIT), await redis.hget(pk.tord, CONSENT_TRAIT)], [refusal.value, refusal.order], p === pid ? 'on P' : 'on B');
  }
});

void t.test('completeUnmerge leaves an unmerge younger than the lease to its driver', async (t) => {
  let crash = true;
  const w = world('v2', redis, ns2, { afterStep: (s) => { if (crash && s === 'U1') throw new Error('crash'); } });
  const pid = await fuse(w, 'lease');
  await t.rejects(unmergerFor(w).unmerge('lease', pid, [bDev], unmergeOptions));
  crash = false;
  const r = await w.v2?.completeUnmerge('lease', pid);
  t.match(r, [{ status: 'pending' }]);
  t.equal((await redis.zrange(w.v2?.journalKey('lease', pid) ?? '', 0, -1)).length, 1, 'still journaled');
});

void t.test('on a 3-master cluster, P and the new profile on different masters', async (t) => {
  const cluster = await startRedisCluster(3);
  t.teardown(() => cluster.stop());
  const client = cluster.client();
  t.teardown(() => client.disconnect());
  const cns = uniqueNamespace('umvc');
  const w = world('v2', client, cns);
  const pid = await fuse(w, 'acme');
  const masterP = await cluster.masterOf(profileKeys(cns, 'acme', pid).prefix);
  let newPid = randomUUID();
  while (await cluster.masterOf(profileKeys(cns, 'acme', newPid).prefix) === masterP) newPid = randomUUID();
  const r = await unmergerFor(w, w.state, { newProfileId: () => newPid }).unmerge('acme', pid, [bDev], unmergeOptions);
  t.equal(r.splitProfileId, newPid);
  t.not(await cluster.masterOf(profileKeys(cns, 'acme', newPid).prefix), masterP, 'on another master');
  t.same(await side(w, 'acme', pid), firstSides.a, 'Alice\'s side as on one Redis (and on v1)');
  t.same(await side(w, 'acme', newPid), firstSides.b, 'Bob\'s side as on one Redis (and on v1)');
  await clean(t, w, 'acme', pid, newPid, [bDev], [id('user_id', 'alice'), id('cookie', 'household-1')]);
});
