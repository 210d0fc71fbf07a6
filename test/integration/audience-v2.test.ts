import t from 'tap';
import type { Command } from 'ioredis';
import type { PulseEvent } from '../../src/collection/event.ts';
import { parseIdentifierKey, type Identifier } from '../../src/identity/identifier.ts';
import { connectRedis, type RedisClient } from '../../src/infra/redis.ts';
import type { JsonObject } from '../../src/json.ts';
import { identifierOwner, profileKeys, tenantKeys } from '../../src/profiles/keys.ts';
import { MergeRunner } from '../../src/profiles/merge.redis.ts';
import type { Applied } from '../../src/profiles/model.ts';
import { RedisProfileStoreV2 } from '../../src/profiles/profile-v2.redis.ts';
import { RedisProfileStore } from '../../src/profiles/profile.redis.ts';
import { newSegment } from '../../src/segments/model.ts';
import { RedisMembershipStoreV2 } from '../../src/segments/segment-v2.redis.ts';
import { RedisSegmentStore } from '../../src/segments/segment.redis.ts';
import { RedisAudienceReaderV2 } from '../../src/targeting/audience-v2.redis.ts';
import { RedisAudienceReader } from '../../src/targeting/audience.redis.ts';
import { RedisSharingStore } from '../../src/targeting/sharing.redis.ts';
import type { AudienceRecord } from '../../src/targeting/store.ts';
import { cleanupNamespace, REDIS_URL, uniqueNamespace } from '../support/env.ts';
import { startRedisCluster } from '../support/redis-cluster.ts';

/*
 * src/profiles/per-profile-layout.md §5 (step 8 of §10): lookups on the per-profile layout. The same people
 * are built through today's store (apply-event.lua, membership.lua) and the per-profile stores in
 * one namespace (their keys differ: `{acme}` against `{acme:<pid>}`, `{acme:i:<h8>}`), sharing the
 * segment definitions, names and taxonomy under `{acme}`; both readers must answer alike, profile
 * ids aside. Then what only v2 has: tombstones, frozen profiles, moved-out identifiers, the
 * catalog and its `catalog_v`, and the round trips of one tick.
 */

const ns = uniqueNamespace('audv2');
const TTL = 3600;
const B = 8;
const T0 = Date.parse('2026-06-01T12:00:00Z');
let redis: RedisClient;

t.before(async () => {
  redis = await connectRedis(REDIS_URL, 'audience-v2-test');
});

t.teardown(async () => {
  await redis.quit();
  await cleanupNamespace(ns);
});

const i = (key: string): Identifier => parseIdentifierKey(key);
const ids = (...keys: string[]): Identifier[] => keys.map(i);

function ev(mid: string, at: number, keys: readonly string[], traits: JsonObject = {}): PulseEvent {
  return {
    type: 'track', messageId: mid, timestamp: T0 + at * 1000, userId: undefined, anonymousId: undefined,
    event: 'Viewed', properties: {}, traits, context: { source: 'web' }, identifiers: keys.map(i), extra: {},
  };
}

const consent = (tc: string, gdprApplies = true): JsonObject => ({ $consent: { tcString: tc, gdprApplies } });

/** What the segment writes of today will do once wired: bump the tenant's `catalog_v`. */
const bump = (tenant: string) => redis.incr(tenantKeys(ns, tenant).catalogVersion);

/** Segment definitions (with names) shared by both layouts. */
async function segments(tenant: string, list: readonly string[]): Promise<RedisSegmentStore> {
  const store = new RedisSegmentStore(redis, ns);
  for (const id of list) await store.create(tenant, newSegment({ id, name: `Name of ${id}`, rule: 'count(Viewed) >= 1' }, T0));
  return store;
}

/** A v2 profile built through the v2 store, then its segments written through the v2 membership store. */
async function v2Person(tenant: string, mid: string, at: number, keys: readonly string[], segs: readonly string[], traits: JsonObject = {}): Promise<string> {
  const [applied] = await new RedisProfileStoreV2(redis, ns, TTL).applyEvents(tenant, [ev(mid, at, keys, traits)]);
  if (applied === undefined) throw new Error('not applied');
  await new RedisMembershipStoreV2(redis, ns, B).write(tenant, applied.profileId, applied.version, segs.map((s) => [s, true]));
  return applied.profileId;
}

void t.test('the v2 reader answers what today\'s reader answers for the same people, profile ids aside', async (t) => {
  const tenant = 'acme';
  const segStore = await segments(tenant, ['s1', 's2', 's3', 'gone']);
  await new RedisSharingStore(redis, ns).setTaxonomy(tenant, 's2', '607');
  const v1 = new RedisProfileStore(redis, ns, TTL);
  const v2 = new RedisProfileStoreV2(redis, ns, TTL);
  const members2 = new RedisMembershipStoreV2(redis, ns, B);
  const people: { keys: string[]; segs: string[]; traits: JsonObject }[] = [
    { keys: ['user_id:u0', 'anonymous_id:a0', 'gaid:g0'], segs: ['s1', 's2'], traits: consent('CQ-zero') },
    { keys: ['user_id:u1'], segs: ['s3', 'gone'], traits: consent('CQ-one', false) },
    { keys: ['anonymous_id:a2', 'idfa:i2'], segs: [], traits: { $consent: 'not a record' } },
    { keys: ['email_sha256:'.padEnd(64 + 13, 'e'), 'cookie:c3'], segs: ['gone'], traits: {} },
    { keys: ['gaid:g4', 'anonymous_id:a4'], segs: ['s1', 's2', 's3'], traits: consent('CQ-four') },
  ];
  const person1 = new Map<string, number>();
  const person2 = new Map<string, number>();
  for (const [n, p] of people.entries()) {
    const e = ev(`eq-${n}`, n, p.keys, p.traits);
    const [a1] = await v1.applyEvents(tenant, [e]);
    const [a2] = await v2.applyEvents(tenant, [e]);
    if (a1 === undefined || a2 === undefined) throw new Error('not applied');
    person1.set(a1.profileId, n);
    person2.set(a2.profileId, n);
    const membership = p.segs.map((s): [string, boolean] => [s, true]);
    await segStore.writeMembership(tenant, a1.profileId, a1.version, membership);
    await members2.write(tenant, a2.profileId, a2.version, membership);
  }
  await segStore.delete(tenant, 'gone');
  await bump(tenant);

  const lookups: Identifier[][] = [
    ...people.map((p) => ids(...p.keys)),
    ...people.map((p) => ids(p.keys[p.keys.length - 1] ?? '')),
    ids('anonymous_id:a2', 'user_id:u1'), // user_id outranks the anonymous id: person 1
    ids('gaid:g0', 'anonymous_id:a4'), // gaid outranks the anonymous id: person 0
    ids('anonymous_id:nobody', 'gaid:g4'), // the first identifier that has a profile decides
    ids('user_id:nobody'), ids(),
    [{ type: 'user_id', id: '' }, { type: 'anonymous_id', id: 'a0' }], // an invalid identifier has no profile: a0 decides
  ];
  const normalize = (records: (AudienceRecord | undefined)[], person: Map<string, number>) =>
    records.map((r) => (r === undefined ? undefined : { ...r, profileId: `person ${person.get(r.profileId)}` }));
  const r1 = normalize(await new RedisAudienceReader(redis, ns).records(tenant, lookups), person1);
  const r2 = normalize(await new RedisAudienceReaderV2(redis, ns).records(tenant, lookups), person2);
  t.strictSame(r2, r1, 'the same answers');
  t.strictSame(r2.slice(13).map((r) => r?.profileId), [undefined, undefined, 'person 0'], 'unknown people; an invalid identifier has no profile, the next one decides');
  t.strictSame(r2[0], {
    profileId: 'person 0', storedConsent: { tcString: 'CQ-zero', gdprApplies: true },
    segments: [{ id: 's1', name: 'Name of s1' }, { id: 's2', name: 'Name of s2', taxonomyId: '607' }],
  }, 'consent, names and taxonomy');
  t.strictSame(r2[1]?.segments, [{ id: 's3', name: 'Name of s3' }], 'a deleted segment is dropped');
  t.equal(r2[2]?.storedConsent, undefined, 'a consent trait that is no record is no consent');
  t.strictSame(r2.slice(10, 13).map((r) => r?.profileId), ['person 1', 'person 0', 'person 4']);

  const reader = new RedisAudienceReaderV2(redis, ns);
  t.strictSame(await reader.audience(tenant, ids('user_id:u1')), { profileId: [...person2].find(([, n]) => n === 1)?.[0], segments: [{ id: 's3', name: 'Name of s3' }] }, 'audience()');
  t.equal(await reader.audience(tenant, ids('user_id:nobody')), undefined, 'an unknown person is undefined');
  t.strictSame(await reader.records(tenant, []), [], 'no lookups, no answer');
});

void t.test('a tombstone is followed; a frozen profile answers its last state; after the merge its identifiers reach the survivor', async (t) => {
  const tenant = 'merge';
  await segments(tenant, ['old', 'young']);
  const s = await v2Person(tenant, 'm1', 1, ['user_id:mu', 'anonymous_id:ms'], ['old'], consent('CQ-s'));
  const l = await v2Person(tenant, 'm2', 2, ['anonymous_id:ml'], ['young'], consent('CQ-l'));
  const runner = (afterStep?: (step: string) => void) => new MergeRunner(redis, ns, { buckets: B, ...(afterStep === undefined ? {} : { afterStep }) });
  const reader = new RedisAudienceReaderV2(redis, ns);
  const look = (key: string) => reader.records(tenant, [ids(key)]).then(([r]) => r);

  // A crash after the freeze (M2) leaves L frozen into S, its id key still pointing at it.
  await t.rejects(runner((step) => { if (step === 'M2') throw new Error('crash'); }).merge(tenant, { survivor: s, loser: l, messageId: 'm3' }));
  t.equal(await redis.hget(profileKeys(ns, tenant, l).hash, 'state'), 'frozen', 'L is frozen');
  t.strictSame(await look('anonymous_id:ml'), {
    profileId: l, segments: [{ id: 'young', name: 'Name of young' }], storedConsent: { tcString: 'CQ-l', gdprApplies: true },
  }, 'frozen: L\'s last state, under L');

  const done = await runner().completeMerge(tenant, l);
  t.equal(done.status, 'finished', 'the merge is finished');
  t.equal(await redis.hget(profileKeys(ns, tenant, l).hash, 'state'), 'merged', 'L is a tombstone');
  const survivor = await look('user_id:mu');
  t.equal(survivor?.profileId, s);
  t.strictSame(await look('anonymous_id:ml'), survivor, 'L\'s identifier reaches S (repointed)');

  // An id key that still names the tombstone (the index lags) is followed to S.
  await redis.set(identifierOwner(ns, tenant, i('anonymous_id:ml')), l);
  t.strictSame(await look('anonymous_id:ml'), survivor, 'tombstone followed to S');
  // A chain of tombstones too: X merged into L merged into S.
  const x = '00000000-0000-4000-8000-00000000000a';
  await redis.hset(profileKeys(ns, tenant, x).hash, { state: 'merged', into: l, created: String(T0) });
  await redis.set(identifierOwner(ns, tenant, i('anonymous_id:mx')), x);
  t.strictSame(await look('anonymous_id:mx'), survivor, 'two tombstones followed');
  // A cycle (corrupted state) fails the calls that hold it, and only those.
  const y = '00000000-0000-4000-8000-00000000000b';
  await redis.hset(profileKeys(ns, tenant, y).hash, { state: 'merged', into: y, created: String(T0) });
  await redis.set(identifierOwner(ns, tenant, i('anonymous_id:my')), y);
  const [cycle, fine] = await Promise.allSettled([look('anonymous_id:my'), look('user_id:mu')]);
  t.equal(cycle.status, 'rejected', 'a tombstone cycle is an error');
  t.strictSame(fine.status === 'fulfilled' ? fine.value : undefined, survivor, 'a lookup of the same tick elsewhere is answered');
});

void t.test('an identifier an unmerge moved out (movedout) is answered by the profile it went to', async (t) => {
  const tenant = 'unmerge';
  await segments(tenant, ['a-side', 'b-side']);
  const p = await v2Person(tenant, 'u1', 1, ['user_id:uu', 'anonymous_id:ua', 'anonymous_id:ub'], ['a-side']);
  const q = await v2Person(tenant, 'u2', 2, ['cookie:uq'], ['b-side'], consent('CQ-q'));
  // Between U2 and U3 (§3.6): P lists ub as moved out to Q, ub's id key still names P.
  await redis.hset(profileKeys(ns, tenant, p).movedout, 'anonymous_id:ub', q);
  const reader = new RedisAudienceReaderV2(redis, ns);
  const [byUb, byUa, byBoth, byUserFirst] = await reader.records(tenant, [
    ids('anonymous_id:ub'), ids('anonymous_id:ua'), ids('anonymous_id:ub', 'anonymous_id:ua'), ids('anonymous_id:ub', 'user_id:uu'),
  ]);
  t.strictSame(byUb, { profileId: q, segments: [{ id: 'b-side', name: 'Name of b-side' }], storedConsent: { tcString: 'CQ-q', gdprApplies: true } }, 'moved to Q');
  t.equal(byUa?.profileId, p, 'the identifiers that stay answer P');
  t.equal(byBoth?.profileId, q, 'the first identifier decides (same priority: given order)');
  t.equal(byUserFirst?.profileId, p, 'user_id outranks the moved-out identifier');
});

void t.test('names and taxonomy come from the catalog, loaded again when catalog_v moved (or it is too old)', async (t) => {
  const tenant = 'catalog';
  const segStore = await segments(tenant, ['c1', 'c2']);
  const sharing = new RedisSharingStore(redis, ns);
  await v2Person(tenant, 'c1', 1, ['user_id:cu'], ['c1', 'c2']);
  let clock = 0;
  const reader = new RedisAudienceReaderV2(redis, ns, { maxAgeMs: 60_000, now: () => clock });
  const look = async () => (await reader.audience(tenant, ids('user_id:cu')))?.segments;
  t.strictSame(await look(), [{ id: 'c1', name: 'Name of c1' }, { id: 'c2', name: 'Name of c2' }]);

  const keys = tenantKeys(ns, tenant);
  await redis.hset(keys.segtaxonomy, 'c1', '42');
  await redis.hset(keys.segnames, 'c2', 'Renamed');
  t.strictSame(await look(), [{ id: 'c1', name: 'Name of c1' }, { id: 'c2', name: 'Name of c2' }], 'a write without a bump: the cached catalog');
  await bump(tenant);
  t.strictSame(await look(), [{ id: 'c1', name: 'Name of c1', taxonomyId: '42' }, { id: 'c2', name: 'Renamed' }], 'after a bump: reloaded');

  // Pulse's own writes of names and taxonomy bump the version themselves.
  await sharing.setTaxonomy(tenant, 'c1', '43');
  t.strictSame(await look(), [{ id: 'c1', name: 'Name of c1', taxonomyId: '43' }, { id: 'c2', name: 'Renamed' }], 'SetSegmentTaxonomy bumps');
  await segStore.delete(tenant, 'c2');
  t.strictSame(await look(), [{ id: 'c1', name: 'Name of c1', taxonomyId: '43' }], 'a deleted segment is dropped (DeleteSegment bumps)');

  await redis.hdel(keys.segtaxonomy, 'c1');
  clock += 59_000;
  t.strictSame(await look(), [{ id: 'c1', name: 'Name of c1', taxonomyId: '43' }], 'not bumped, younger than maxAgeMs: cached');
  clock += 2_000;
  t.strictSame(await look(), [{ id: 'c1', name: 'Name of c1' }], 'older than maxAgeMs: reloaded without a bump');
});

void t.test('every write of segment names or taxonomy ids bumps catalog_v', async (t) => {
  const tenant = 'catalogv';
  const keys = tenantKeys(ns, tenant);
  const version = async (): Promise<number> => Number(await redis.get(keys.catalogVersion) ?? 0);
  const segStore = await segments(tenant, ['v1']);
  const sharing = new RedisSharingStore(redis, ns);
  const created = await version();
  t.ok(created >= 1, 'CreateSegment');
  await sharing.setTaxonomy(tenant, 'v1', '7');
  t.equal(await version(), created + 1, 'SetSegmentTaxonomy');
  await sharing.setTaxonomy(tenant, 'v1', '');
  t.equal(await version(), created + 2, 'SetSegmentTaxonomy clearing');
  await segStore.delete(tenant, 'v1');
  t.equal(await version(), created + 3, 'DeleteSegment');
});

/** Commands the client sends while `fn` runs (name and first key). */
async function commands<T>(client: RedisClient, fn: () => Promise<T>): Promise<{ result: T; sent: { name: string; key: string }[] }> {
  const sent: { name: string; key: string }[] = [];
  const original = client.sendCommand.bind(client) as (command: Command, ...rest: unknown[]) => unknown;
  const spy = (command: Command, ...rest: unknown[]): unknown => {
    const name = command.name.toLowerCase();
    sent.push({ name, key: String(name === 'evalsha' || name === 'eval' ? command.args[2] : command.args[0]) });
    return original(command, ...rest);
  };
  Object.assign(client, { sendCommand: spy });
  try {
    return { result: await fn(), sent };
  } finally {
    Object.assign(client, { sendCommand: original });
  }
}

void t.test('many lookups in one tick: one GET per distinct identifier, one catalog_v per tenant, one script call per distinct profile', async (t) => {
  const tenants = ['tick1', 'tick2'];
  const pids = new Map<string, string[]>();
  for (const tenant of tenants) {
    await segments(tenant, ['even', 'odd']);
    const list: string[] = [];
    for (let n = 0; n < 40; n++) list.push(await v2Person(tenant, `t${n}`, n, [`user_id:u${n}`, `anonymous_id:a${n}`], [n % 2 === 0 ? 'even' : 'odd']));
    pids.set(tenant, list);
  }
  const reader = new RedisAudienceReaderV2(redis, ns);
  for (const tenant of tenants) await reader.records(tenant, [ids('user_id:u0')]); // catalogs loaded, script known

  // 200 calls: each person looked up 2-3 times, by user_id, by anonymous id, by both; and unknowns.
  const calls: { tenant: string; lookup: Identifier[]; expected: number | undefined }[] = [];
  for (let k = 0; k < 200; k++) {
    const tenant = tenants[k % 2] ?? '';
    const n = Math.floor(k / 2) % 40;
    const lookup = k % 5 === 4 ? ids(`user_id:nobody${k % 3}`) : k % 3 === 0 ? ids(`anonymous_id:a${n}`) : k % 3 === 1 ? ids(`user_id:u${n}`) : ids(`anonymous_id:a${n}`, `user_id:u${n}`);
    calls.push({ tenant, lookup, expected: k % 5 === 4 ? undefined : n });
  }
  const { result, sent } = await commands(redis, () => Promise.all(calls.map((c) => reader.records(c.tenant, [c.lookup]))));
  const mine = sent.filter((c) => c.key.startsWith(`${ns}:`));
  const distinctIds = new Set(calls.flatMap((c) => c.lookup.map((x) => `${c.tenant} ${x.type}:${x.id}`))).size;
  const gets = mine.filter((c) => c.name === 'get');
  t.equal(gets.filter((c) => c.key.endsWith('catalog_v')).length, 2, 'catalog_v once per tenant');
  t.equal(gets.length - 2, distinctIds, 'one GET per distinct identifier');
  // The identifier a profile is found by is the first by priority: user_id when the lookup has it.
  const reads = new Set(calls.filter((c) => c.expected !== undefined).map((c) => `${c.tenant} ${c.expected} ${c.lookup.some((x) => x.type === 'user_id') ? 'u' : 'a'}`));
  const found = new Set(calls.filter((c) => c.expected !== undefined).map((c) => `${c.tenant} ${c.expected}`));
  const scripts = mine.filter((c) => c.name === 'evalsha');
  t.equal(scripts.length, reads.size, 'one script call per distinct profile and identifier it was found by');
  t.equal(new Set(scripts.map((c) => c.key)).size, found.size, 'each on its profile');
  t.notOk(mine.some((c) => c.name === 'multi' || c.name === 'hgetall'), 'catalogs not loaded again');
  t.strictSame(result.map((r) => r[0]?.profileId), calls.map((c) => (c.expected === undefined ? undefined : pids.get(c.tenant)?.[c.expected])), 'each caller gets its own answer');
  t.strictSame(result.map((r) => r[0]?.segments.map((s) => s.id)), calls.map((c) => (c.expected === undefined ? undefined : [c.expected % 2 === 0 ? 'even' : 'odd'])));
});

void t.test('on a 3-master Redis Cluster: no cross-slot command, answers as on one node', async (t) => {
  const cluster = await startRedisCluster(3);
  const client = await connectRedis({ url: cluster.url, cluster: true }, 'audience-v2-cluster-test');
  t.teardown(async () => {
    await client.quit();
    await cluster.stop();
  });
  const tenant = 'acme';
  const segStore = new RedisSegmentStore(client, ns);
  for (const id of ['k1', 'k2']) await segStore.create(tenant, newSegment({ id, name: `Name of ${id}`, rule: 'count(Viewed) >= 1' }, T0));
  const store = new RedisProfileStoreV2(client, ns, TTL);
  const members = new RedisMembershipStoreV2(client, ns, B);
  const applied: Applied[] = [];
  for (let n = 0; n < 12; n++) {
    const [a] = await store.applyEvents(tenant, [ev(`k${n}`, n, [`user_id:ku${n}`, `anonymous_id:ka${n}`], n === 3 ? consent('CQ-k') : {})]);
    if (a === undefined) throw new Error('not applied');
    await members.write(tenant, a.profileId, a.version, [[n % 2 === 0 ? 'k1' : 'k2', true]]);
    applied.push(a);
  }
  const masters = new Set(await Promise.all(applied.map((a) => cluster.masterOf(profileKeys(ns, tenant, a.profileId).hash))));
  t.equal(masters.size, 3, 'the profiles are on all three masters');
  const reader = new RedisAudienceReaderV2(client, ns);
  const records = await Promise.all(applied.map((_, n) => reader.records(tenant, [ids(`anonymous_id:ka${n}`, `user_id:ku${n}`), ids(`user_id:nobody${n}`)])));
  t.strictSame(records.map((r) => r[0]?.profileId), applied.map((a) => a.profileId), 'every profile found');
  t.strictSame(records.map((r) => r[1]), applied.map(() => undefined), 'unknowns undefined');
  t.strictSame(records[3]?.[0], { profileId: applied[3]?.profileId, segments: [{ id: 'k2', name: 'Name of k2' }], storedConsent: { tcString: 'CQ-k', gdprApplies: true } });
});
