import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { KeyRing } from '../../src/auth/keys.ts';
import { natsEventPublisher } from '../../src/collection/publisher.nats.ts';
import type { UnmergeProfileResponse__Output } from '../../src/gen/pulse/v1/UnmergeProfileResponse.ts';
import { startGrpcServer, type GrpcServer } from '../../src/infra/grpc-server.ts';
import { createLogger } from '../../src/infra/log.ts';
import { createMetrics } from '../../src/infra/metrics.ts';
import { ensureStreams, streamNames } from '../../src/infra/nats.ts';
import { loadPulseGrpc } from '../../src/infra/proto.ts';
import { DEFAULT_CONSENT_SETTINGS } from '../../src/privacy/consent.ts';
import { natsProfileChanges, natsUnmergeChanges } from '../../src/profiles/changes.nats.ts';
import { ProfileHistoryWriter } from '../../src/profiles/history.clickhouse.ts';
import { tenantKeys } from '../../src/profiles/keys.ts';
import { parseProfilePolicies, type ProfilePolicies } from '../../src/profiles/policy.ts';
import { profileHandlers } from '../../src/profiles/service.ts';
import { ProfileUnmerger, type UnmergeState } from '../../src/profiles/unmerge.ts';
import { ClickHouseUnmergeHistory } from '../../src/profiles/unmerge.clickhouse.ts';
import { RedisUnmergeState } from '../../src/profiles/unmerge.redis.ts';
import { natsSegmentChanges } from '../../src/segments/changes.nats.ts';
import { RedisSegmentDefinitions } from '../../src/segments/definitions.redis.ts';
import { RedisFeatureStore } from '../../src/segments/features.redis.ts';
import { ClickHouseMembershipHistory } from '../../src/segments/history.clickhouse.ts';
import { newSegment } from '../../src/segments/model.ts';
import { RealtimeSegments } from '../../src/segments/realtime.ts';
import { RedisSegmentStore } from '../../src/segments/segment.redis.ts';
import { normalizeEvent } from '../../src/collection/event.ts';
import { EventWriter } from '../../src/warehouse/events.ts';
import { schemaStatements } from '../../src/warehouse/schema.ts';
import { cleanupNamespace, eventually, uniqueNamespace } from '../support/env.ts';
import { segMembers, segsOf } from '../support/keys.ts';
import { startRealtime, type RealtimeHarness } from '../support/realtime.ts';
import { openTestStack, type TestStack } from '../support/stack.ts';
import { aliceAndBob, UNMERGE_SEGMENTS } from '../support/unmerge-fixtures.ts';

const ns = uniqueNamespace('unm');
// Reference profiles, each built from one person's events only (tenants `alice` and `bob`).
const refNs = uniqueNamespace('unmref');
const WRITER = 'unmerge-test-writer-key-0001';
const READER = 'unmerge-test-reader-key-0001';
const MIN = 60_000;
const base = Date.now() - 24 * 60 * MIN;
const at = (minutes: number) => new Date(base + minutes * MIN).toISOString();
const metrics = createMetrics();
const log = createLogger('silent');
const SEGMENTS = UNMERGE_SEGMENTS;
const { household, ALICE, BOB } = aliceAndBob(at);

let stack: TestStack;
let policies: ProfilePolicies;
let main: RealtimeHarness;
let ref: RealtimeHarness;
let server: GrpcServer;
let client: grpc.Client;
let unmergeState: UnmergeState;

/** The real-time pipeline with merges recorded in ClickHouse and published, as src/main.ts wires it. */
async function startPipeline(namespace: string, tenants: readonly string[]): Promise<RealtimeHarness> {
  const { nc, redis, warehouse } = stack;
  const segments = new RedisSegmentStore(redis, namespace);
  for (const tenant of tenants) {
    for (const [id, rule] of Object.entries(SEGMENTS)) await segments.create(tenant, newSegment({ id, name: id, rule }, Date.now()));
  }
  const definitions = new RedisSegmentDefinitions(redis, namespace);
  const publishMerges = natsProfileChanges(nc, namespace);
  const profileHistory = new ProfileHistoryWriter(warehouse, namespace);
  return startRealtime(nc, redis, warehouse, namespace, metrics, Date.now, {
    policies,
    recordProfileChanges: async (tenant, events, results) => {
      await Promise.all([
        publishMerges(tenant, events, results), profileHistory.write(tenant, events, results),
        definitions.indexProfiles(tenant, results.filter((r) => !r.duplicate).map((r) => r.profileId)),
      ]);
    },
  });
}

/** Scratch namespaces the unmerges used, to check that none left a key. */
const scratchSpaces: string[] = [];

/** `state` with every scratch space recorded, and `beforeSwap` run before each swap. */
function recording(state: UnmergeState, beforeSwap: () => Promise<void> = () => Promise.resolve()): UnmergeState {
  return {
    snapshot: (tenant, pid) => state.snapshot(tenant, pid),
    repointDedup: (tenant, ids, pid) => state.repointDedup(tenant, ids, pid),
    traits: (tenant, pids) => state.traits(tenant, pids),
    scratch: (tenant) => {
      const inner = state.scratch(tenant);
      scratchSpaces.push(inner.namespace);
      return {
        namespace: inner.namespace,
        replay: (side, events, features, now) => inner.replay(side, events, features, now),
        discard: () => inner.discard(),
        swap: async (req) => {
          await beforeSwap();
          return inner.swap(req);
        },
      };
    },
  };
}

/** Keys a scratch space would hold for `messageIds`: none may be left once an unmerge returned. */
async function scratchLeft(messageIds: readonly string[]): Promise<string[]> {
  const keys = scratchSpaces.flatMap((space) => {
    const scratch = tenantKeys(space, 'acme');
    return [
      scratch.identifier({ type: 'cookie', id: 'unmerge-side-a' }), scratch.identifier({ type: 'cookie', id: 'unmerge-side-b' }),
      ...messageIds.flatMap((m) => [scratch.dedup(m), scratch.applied(m), scratch.fdedup(m)]),
    ];
  });
  const exists = await Promise.all(keys.map((k) => stack.redis.exists(k)));
  return keys.filter((_, i) => exists[i] === 1);
}

function unmergerFor(state: UnmergeState, historyWaitMs?: number): ProfileUnmerger {
  const { nc, redis, warehouse } = stack;
  const realtime = new RealtimeSegments({
    segments: new RedisSegmentStore(redis, ns), profiles: main.profiles, features: new RedisFeatureStore(redis, ns, 3600),
    history: new ClickHouseMembershipHistory(warehouse, ns), log, metrics, now: Date.now,
  });
  const definitions = new RedisSegmentDefinitions(redis, ns);
  return new ProfileUnmerger({
    state, history: new ClickHouseUnmergeHistory(warehouse, ns),
    features: async (tenant) => (await realtime.definitions(tenant)).features,
    evaluate: (tenant, targets) => realtime.evaluate(tenant, targets, 'unmerge'),
    publishSegmentChanges: natsSegmentChanges(nc, ns), publishProfileChange: natsUnmergeChanges(nc, ns),
    indexProfiles: (tenant, ids) => definitions.indexProfiles(tenant, ids), consent: DEFAULT_CONSENT_SETTINGS, log, metrics,
    ...(historyWaitMs === undefined ? {} : { historyWaitMs }),
  });
}

t.before(async () => {
  stack = await openTestStack(ns, 'unmerge-test');
  await ensureStreams(stack.nc, refNs, 5_000);
  for (const ddl of schemaStatements(refNs)) await stack.warehouse.exec(ddl);
  const parsed = parseProfilePolicies(JSON.stringify({ '*': { interests: { policy: 'add_to_set' }, computed: { ltv: { sum: 'revenue', event: 'Purchase' } } } }));
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  policies = parsed.policies;
  main = await startPipeline(ns, ['acme']);
  ref = await startPipeline(refNs, ['alice', 'bob']);
  unmergeState = new RedisUnmergeState(stack.redis, ns, { policies });
  const ctx = {
    keys: new KeyRing([
      { key: WRITER, tenant: 'acme', scopes: ['profiles:write', 'profiles:read'] },
      { key: READER, tenant: 'acme', scopes: ['profiles:read'] },
    ]),
    metrics, log,
  };
  const pkg = loadPulseGrpc();
  server = await startGrpcServer('127.0.0.1', 0, [{
    name: 'pulse.v1.ProfileService', definition: pkg.pulse.v1.ProfileService.service,
    handlers: profileHandlers(ctx, main.profiles, natsEventPublisher(stack.nc, ns, { ackTimeoutMs: 5_000 }), unmergerFor(recording(unmergeState))),
  }]);
  client = new pkg.pulse.v1.ProfileService(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
});

t.teardown(async () => {
  client.close();
  await server.stop(1000);
  await main.stop();
  await ref.stop();
  await cleanupNamespace(refNs);
  await stack.close();
});

function call<Res>(method: string, req: unknown, key = WRITER): Promise<Res> {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${key}`);
  const fn = (client as unknown as Record<string, (r: unknown, m: grpc.Metadata, cb: (e: grpc.ServiceError | null, r: Res) => void) => void>)[method];
  if (fn === undefined) throw new Error(`no method ${method}`);
  return new Promise((resolve, reject) => fn.call(client, req, md, (err, res) => (err === null ? resolve(res) : reject(err))));
}

async function callError(method: string, req: unknown, key = WRITER): Promise<grpc.ServiceError> {
  try {
    await call(method, req, key);
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error(`${method} succeeded`);
}


/** What a profile is made of, as the processor built it: compared between the split sides and the references. */
async function built(pipeline: RealtimeHarness, namespace: string, tenant: string, pid: string) {
  const p = await pipeline.profiles.get(tenant, pid);
  if (p === undefined) throw new Error(`no profile ${pid}`);
  return { traits: p.traits, eventCounts: p.eventCounts, firstSeen: p.firstSeen, lastSeen: p.lastSeen, segments: await segsOf(stack.redis, namespace, tenant, pid) };
}

/** Messages on the namespace's changes stream so far. */
async function changes(): Promise<{ subject: string; body: Record<string, unknown> }[]> {
  const jsm = await jetstreamManager(stack.nc);
  const names = streamNames(ns);
  const total = (await jsm.streams.info(names.changes)).state.messages;
  const out: { subject: string; body: Record<string, unknown> }[] = [];
  const consumer = await jetstream(stack.nc).consumers.get(names.changes);
  for await (const m of await consumer.fetch({ max_messages: total, expires: 2_000 })) {
    out.push({ subject: m.subject, body: m.json<Record<string, unknown>>() });
    if (out.length === total) break;
  }
  return out;
}

const id = (type: string, value: string) => ({ type, id: value });
let alicePid = '';
let bobPid = '';

void t.test('two people fused through a shared identifier', async (t) => {
  for (const e of [...ALICE, ...BOB]) await main.publish('acme', e);
  for (const e of ALICE) await ref.publish('alice', e);
  for (const e of BOB) await ref.publish('bob', e);
  await main.settle();
  await ref.settle();
  alicePid = (await main.profiles.resolve('acme', [id('user_id', 'alice')])) ?? '';
  t.ok(alicePid);
  t.equal(await main.profiles.resolve('acme', [id('anonymous_id', 'b-dev')]), alicePid, 'Bob lives in Alice\'s profile');
  const fused = await built(main, ns, 'acme', alicePid);
  t.same(fused.traits, { name: 'Bob', interests: ['chess', 'golf'], city: 'Oslo', ltv: 175 });
  t.same(fused.segments, ['big_spender', 'buyer', 'oslo', 'searcher']);
});

void t.test('UnmergeProfile checks what it is asked', async (t) => {
  const nf = await callError('UnmergeProfile', { identifiers: [id('user_id', 'nobody')], split: [id('anonymous_id', 'b-dev')] });
  t.equal(nf.code, grpc.status.NOT_FOUND);
  const empty = await callError('UnmergeProfile', { identifiers: [id('user_id', 'alice')], split: [] });
  t.equal(empty.code, grpc.status.INVALID_ARGUMENT);
  t.match(empty.details, /^split: at least one identifier/);
  const bad = await callError('UnmergeProfile', { identifiers: [id('user_id', 'alice')], split: [id('email_sha256', 'not-hex')] });
  t.equal(bad.code, grpc.status.INVALID_ARGUMENT);
  t.match(bad.details, /^split\[0\]: email_sha256 must be 64 lowercase hex/);
  const foreign = await callError('UnmergeProfile', { identifiers: [id('user_id', 'alice')], split: [id('anonymous_id', 'b-dev'), id('anonymous_id', 'someone-else')] });
  t.equal(foreign.code, grpc.status.FAILED_PRECONDITION);
  t.equal(foreign.details, 'split[1]: this anonymous_id is not an identifier of the profile', 'names the identifier by place and type, not value');
  const all = await callError('UnmergeProfile', {
    identifiers: [id('user_id', 'alice')],
    split: [id('user_id', 'alice'), id('anonymous_id', 'a-dev'), id('anonymous_id', 'b-dev'), id('cookie', 'household-1')],
  });
  t.equal(all.code, grpc.status.FAILED_PRECONDITION);
  t.match(all.details, /every identifier of the profile/);
  const denied = await callError('UnmergeProfile', { identifiers: [id('user_id', 'alice')], split: [id('anonymous_id', 'b-dev')] }, READER);
  t.equal(denied.code, grpc.status.PERMISSION_DENIED);
  t.equal(await main.profiles.resolve('acme', [id('anonymous_id', 'b-dev')]), alicePid, 'nothing changed');
});

void t.test('unmerge rebuilds both sides exactly as their own events build them', async (t) => {
  const res = await call<UnmergeProfileResponse__Output>('UnmergeProfile', { identifiers: [id('anonymous_id', 'b-dev')], split: [id('anonymous_id', 'b-dev')] });
  bobPid = res.splitProfileId;
  t.equal(res.profileId, alicePid, 'the profile keeps its id');
  t.not(bobPid, alicePid);
  t.same(res.splitIdentifiers, [id('anonymous_id', 'b-dev')]);
  t.same(res.profileIdentifiers.map((i) => `${i.type}:${i.id}`), ['anonymous_id:a-dev', 'cookie:household-1', 'user_id:alice']);
  t.same([res.eventsProfile, res.eventsSplit, res.eventsSkipped], ['4', '4', '0'], 'each side replayed its own four events');
  t.same(res.warnings, []);
  t.same(res.segmentChanges.map((c) => `${c.profileId === alicePid ? 'alice' : 'bob'} ${c.kind} ${c.segmentId}`).sort(), [
    'alice exit buyer', 'alice exit oslo', 'bob enter buyer', 'bob enter oslo', 'bob enter searcher',
  ]);

  const refAlice = (await ref.profiles.resolve('alice', [id('user_id', 'alice')])) ?? '';
  const refBob = (await ref.profiles.resolve('bob', [id('anonymous_id', 'b-dev')])) ?? '';
  const alice = await built(main, ns, 'acme', alicePid);
  const bob = await built(main, ns, 'acme', bobPid);
  t.same(alice, await built(ref, refNs, 'alice', refAlice), 'Alice: traits, counts, computed traits, times and segments of her events only');
  t.same(bob, await built(ref, refNs, 'bob', refBob), 'Bob: the same for his');
  t.same(alice.traits, { name: 'Alice', interests: ['golf'], ltv: 120 });
  t.same(bob.segments, ['buyer', 'oslo', 'searcher']);
  t.same((await segMembers(stack.redis, ns, 'acme', 'oslo')), [bobPid], 'per-segment membership follows');
  t.equal(await main.profiles.resolve('acme', [id('anonymous_id', 'b-dev')]), bobPid);
  t.equal(await main.profiles.resolve('acme', [id('cookie', 'household-1')]), alicePid, 'identifiers not split off stay');
  for (const pid of [alicePid, bobPid]) {
    const pk = tenantKeys(ns, 'acme').profile(pid);
    t.same(await Promise.all([pk.traits, pk.tord, pk.counts, pk.computed].map((key) => stack.redis.ttl(key))), [-1, -1, -1, -1], 'rebuilt state does not expire');
    const zsets = (await stack.redis.smembers(pk.fkeys)).map((f) => pk.feature(f));
    t.ok(zsets.length > 0);
    for (const z of zsets) t.ok(await stack.redis.ttl(z) > 6 * 24 * 3600, 'feature zsets keep the expiry of their windows (7 and 30 days)');
  }
  t.equal(await stack.redis.get(tenantKeys(ns, 'acme').dedup('b2')), bobPid, 'a redelivered event of Bob reads as his duplicate');
  t.equal(await stack.redis.get(tenantKeys(ns, 'acme').dedup('a2')), alicePid);

  const rows = await stack.warehouse.query<{ message_id: string; profile_id: string }>(
    `SELECT message_id, profile_id FROM ${ns}.events FINAL WHERE tenant = 'acme' ORDER BY message_id`,
  );
  t.same(rows.map((r) => `${r.message_id} ${r.profile_id === alicePid ? 'alice' : r.profile_id === bobPid ? 'bob' : r.profile_id}`), [
    'a1 alice', 'a2 alice', 'a3 alice', 'a4 alice', 'b1 bob', 'b2 bob', 'b3 bob', 'b4 bob',
  ], 'the warehouse stores Bob\'s events under his profile now');
  const record = await stack.warehouse.query<{ survivor: string; merged: string; identifiers: string[]; message_id: string; reason: string }>(
    `SELECT survivor, merged, identifiers, message_id, reason FROM ${ns}.profile_merges WHERE tenant = 'acme' AND outcome = 'unmerged'`,
  );
  t.same(record, [{ survivor: alicePid, merged: bobPid, identifiers: ['anonymous_id:b-dev'], message_id: res.unmergeId, reason: record[0]?.reason }]);
  t.match(record[0]?.reason, /^UnmergeProfile by key [0-9a-f]{12}$/);
  const traitRows = await stack.warehouse.query<{ profile_id: string; trait: string; value: string; source: string }>(
    `SELECT profile_id, trait, value, source FROM ${ns}.trait_history WHERE tenant = 'acme' AND message_id = {m:String} ORDER BY profile_id = {a:String} DESC, trait`,
    { m: res.unmergeId, a: alicePid },
  );
  t.same(traitRows.map((r) => `${r.profile_id === alicePid ? 'alice' : 'bob'} ${r.trait}=${r.value} (${r.source})`), [
    'alice city=null (unmerge)', 'alice interests=["golf"] (unmerge)', 'alice name="Alice" (unmerge)',
    'bob city="Oslo" (unmerge)', 'bob interests=["chess"] (unmerge)', 'bob name="Bob" (unmerge)',
  ], 'trait history says what the unmerge changed on each side');
  t.equal((await metrics.profileMerges.get()).values.find((v) => v.labels['outcome'] === 'unmerged')?.value, 1, 'counted in pulse_profile_merges_total');

  const published = await changes();
  const profileMsgs = published.filter((m) => m.subject === `${ns}.changes.acme.profile`).map((m) => m.body);
  t.same(profileMsgs.map((m) => m['kind']), ['merge', 'unmerge'], 'the fusion and the unmerge were published');
  t.match(profileMsgs[1], {
    kind: 'unmerge', profileId: alicePid, splitProfileId: bobPid, profileIds: [alicePid, bobPid], identifiers: ['anonymous_id:b-dev'],
    unmergeId: res.unmergeId, events: { profile: 4, split: 4 },
  });
  const bobBefore = String(profileMsgs[0]?.['merged']);
  t.equal((await main.profiles.get('acme', bobBefore))?.id, bobPid, 'Bob\'s profile id from before the fusion reads as his profile again');
  const segmentMsgs = published.filter((m) => m.subject === `${ns}.changes.acme.segment`).map((m) => m.body);
  for (const c of res.segmentChanges) {
    t.ok(segmentMsgs.some((m) => m['profileId'] === c.profileId && m['segmentId'] === c.segmentId && m['kind'] === c.kind), `${c.kind} ${c.segmentId} published`);
  }
  t.same(await scratchLeft([...ALICE, ...BOB].map((e) => e.messageId)), [], 'no scratch key is left (of the refused calls either)');
});

void t.test('the two never merge again: a later event with both ids is refused', async (t) => {
  const aliceVersion = (await main.profiles.get('acme', alicePid))?.version ?? 0;
  await main.publish('acme', { type: 'track', messageId: 'c1', anonymousId: 'b-dev', event: 'Visit', context: household, timestamp: at(80) });
  await main.publish('acme', { type: 'identify', messageId: 'c2', userId: 'alice', anonymousId: 'b-dev', traits: { name: 'Alice B.' }, timestamp: at(81) });
  await main.settle();
  t.equal(await main.profiles.resolve('acme', [id('anonymous_id', 'b-dev')]), bobPid);
  t.equal(await main.profiles.resolve('acme', [id('cookie', 'household-1')]), alicePid);
  t.equal((await main.profiles.get('acme', bobPid))?.eventCounts['Visit'], 1, 'the Visit landed on Bob (his id comes first)');
  t.equal((await main.profiles.get('acme', alicePid))?.traits['name'], 'Alice B.', 'the identify landed on Alice (user_id comes first)');
  t.ok(((await main.profiles.get('acme', alicePid))?.version ?? 0) > aliceVersion);
  const refused = await main.profiles.refusedMerges('acme', 10);
  t.same(refused.filter((r) => r['reason'] === 'unmerged').map((r) => [r['messageId'], r['profile'], r['other']]).sort(), [
    ['c1', bobPid, alicePid], ['c2', alicePid, bobPid],
  ]);
  const rows = await eventually(async () => {
    const r = await stack.warehouse.query<{ message_id: string }>(
      `SELECT message_id FROM ${ns}.profile_merges WHERE tenant = 'acme' AND outcome = 'refused' AND reason = 'unmerged' ORDER BY message_id`,
    );
    return r.length === 2 ? r : undefined;
  }, 5_000, 'refusals in ClickHouse');
  t.same(rows.map((r) => r.message_id), ['c1', 'c2']);
});

void t.test('the refusal survives a merge of either side into a third profile', async (t) => {
  // Carol's profile is older than Bob's, so Bob merges into it and it inherits his do-not-merge.
  await main.publish('acme', { type: 'track', messageId: 'd1', anonymousId: 'c-dev', event: 'Visit', timestamp: at(-100) });
  await main.settle();
  await main.publish('acme', { type: 'track', messageId: 'd2', anonymousId: 'c-dev', event: 'Visit', context: { externalIds: [{ type: 'cookie', id: 'bob-cookie' }] }, timestamp: at(90) });
  await main.publish('acme', { type: 'track', messageId: 'd3', anonymousId: 'b-dev', event: 'Visit', context: { externalIds: [{ type: 'cookie', id: 'bob-cookie' }] }, timestamp: at(91) });
  await main.settle();
  const carolPid = (await main.profiles.resolve('acme', [id('anonymous_id', 'c-dev')])) ?? '';
  t.equal(await main.profiles.resolve('acme', [id('anonymous_id', 'b-dev')]), carolPid, 'Bob merged into Carol');
  await main.publish('acme', { type: 'track', messageId: 'd4', userId: 'alice', event: 'Visit', context: { externalIds: [{ type: 'cookie', id: 'bob-cookie' }] }, timestamp: at(92) });
  await main.settle();
  t.equal(await main.profiles.resolve('acme', [id('cookie', 'bob-cookie')]), carolPid, 'Alice is still kept apart from Bob, now in Carol');
  t.not(await main.profiles.resolve('acme', [id('user_id', 'alice')]), carolPid);
});

void t.test('an event applied during the rebuild is not lost: the rebuild is redone', async (t) => {
  const { warehouse } = stack;
  // Dave and Erin share a tablet; Erin's identify arrives while Dave's profile is being rebuilt.
  await main.publish('acme', { type: 'identify', messageId: 'e1', userId: 'dave', traits: { name: 'Dave' }, timestamp: at(100) });
  await main.publish('acme', { type: 'track', messageId: 'e2', userId: 'dave', event: 'Purchase', properties: { revenue: 10 }, context: { externalIds: [{ type: 'cookie', id: 'tablet' }] }, timestamp: at(101) });
  await main.publish('acme', { type: 'track', messageId: 'e3', anonymousId: 'erin-phone', event: 'Purchase', properties: { revenue: 7 }, context: { externalIds: [{ type: 'cookie', id: 'tablet' }] }, timestamp: at(102) });
  await main.settle();
  const davePid = (await main.profiles.resolve('acme', [id('user_id', 'dave')])) ?? '';
  t.equal(await main.profiles.resolve('acme', [id('anonymous_id', 'erin-phone')]), davePid, 'fused through the tablet');
  let injected = false;
  // Between the replay and the swap, the processor applies (and stores) an event of Erin's.
  const racing = recording(unmergeState, async () => {
    if (injected) return;
    injected = true;
    const late = normalizeEvent({ type: 'identify', messageId: 'e4', anonymousId: 'erin-phone', traits: { name: 'Erin' }, timestamp: at(103) }, Date.now());
    if (!late.ok) throw new Error(late.problem.reason);
    const [applied] = await main.profiles.applyEvents('acme', [late.event]);
    await new EventWriter(warehouse, ns).write('acme', [{ event: late.event, profileId: applied?.profileId ?? '', maybeWritten: false }], Date.now());
  });
  const spacesBefore = scratchSpaces.length;
  const r = await unmergerFor(racing).unmerge('acme', davePid, [id('anonymous_id', 'erin-phone')], { allowPartialHistory: false, keyId: 'test' });
  t.equal(r.attempts, 2, 'the first swap found the profile changed');
  t.same([r.eventsProfile, r.eventsSplit], [2, 2]);
  const erin = await main.profiles.get('acme', r.splitProfileId);
  t.same([erin?.traits, erin?.eventCounts], [{ name: 'Erin', ltv: 7 }, { Purchase: 1, $identify: 1 }], 'Erin has her late identify');
  const dave = await main.profiles.get('acme', davePid);
  t.same([dave?.traits, dave?.eventCounts], [{ name: 'Dave', ltv: 10 }, { $identify: 1, Purchase: 1 }]);
  t.equal(scratchSpaces.length - spacesBefore, 1, 'the redo reused the scratch space (its replayed events were skipped)');
  t.same(await scratchLeft(['e1', 'e2', 'e3', 'e4']), [], 'which was removed');
});

void t.test('a profile whose history the warehouse lacks is not rebuilt unless asked', async (t) => {
  const late = normalizeEvent({ type: 'track', messageId: 'f1', userId: 'frank', event: 'Visit', context: { externalIds: [{ type: 'cookie', id: 'frank-c' }] }, timestamp: at(110) }, Date.now());
  if (!late.ok) throw new Error(late.problem.reason);
  // Applied to Redis but never written to the warehouse.
  const [applied] = await main.profiles.applyEvents('acme', [late.event]);
  const pid = applied?.profileId ?? '';
  const unmerger = unmergerFor(unmergeState, 300);
  await t.rejects(unmerger.unmerge('acme', pid, [id('cookie', 'frank-c')], { allowPartialHistory: false, keyId: 'test' }), {
    code: 'FAILED_PRECONDITION', message: /the warehouse holds 0 of the 1 events of this profile/,
  });
  const r = await unmerger.unmerge('acme', pid, [id('cookie', 'frank-c')], { allowPartialHistory: true, keyId: 'test' });
  t.same([r.eventsProfile, r.eventsSplit], [0, 0]);
  t.same((await main.profiles.get('acme', pid))?.eventCounts, {}, 'what the warehouse does not hold counts on neither side');
});
