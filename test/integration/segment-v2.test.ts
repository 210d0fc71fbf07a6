import t from 'tap';
import { connectRedis, defineScript, type RedisClient } from '../../src/infra/redis.ts';
import { bucketKeys, bucketOf, profileIdFor, profileKeys } from '../../src/profiles/keys.ts';
import { newSegment } from '../../src/segments/model.ts';
import { RedisMembershipStoreV2, TOMBSTONE_MS } from '../../src/segments/segment-v2.redis.ts';
import { RedisSegmentStore } from '../../src/segments/segment.redis.ts';
import type { MembershipWrite } from '../../src/segments/store.ts';
import { cleanupNamespace, REDIS_URL, uniqueNamespace } from '../support/env.ts';
import { dueOf, segMembers, segSize } from '../support/keys.ts';
import { random } from '../support/openrtb-mutations.ts';

/*
 * src/profiles/per-profile-layout.md §4 (step 6 of §10): membership in the per-profile layout, with the
 * per-segment sets, `due` and the profile index split into B = 8 buckets, against today's store.
 * Both layouts live in the same namespace (their keys differ: `{acme}` against `{acme:<pid>}` and
 * `{acme:s<b>}`), so the segment definitions are shared.
 */

const ns = uniqueNamespace('segv2');
const B = 8;
const SEGMENTS = ['s1', 's2', 's3', 's4', 's5'];
const T0 = Date.parse('2026-06-01T12:00:00Z');
let redis: RedisClient;
let v1: RedisSegmentStore;
let v2: RedisMembershipStoreV2;

t.before(async () => {
  redis = await connectRedis(REDIS_URL, 'segment-v2-test');
  v1 = new RedisSegmentStore(redis, ns);
  v2 = new RedisMembershipStoreV2(redis, ns, B);
  for (const tenant of ['acme', 'race', 'fence', 'gap', 'gone', 'clock', 'index']) {
    for (const id of SEGMENTS) await v1.create(tenant, newSegment({ id, name: id, rule: 'count(Visit) >= 1' }, T0));
  }
});

t.teardown(async () => {
  await redis.quit();
  await cleanupNamespace(ns);
});

const pidOf = (tenant: string, i: number) => profileIdFor(tenant, `m${i}`);
const bucket = (tenant: string, pid: string) => bucketKeys(ns, tenant, bucketOf(pid, B));
const sorted = (ids: Iterable<string>) => [...ids].sort();

/** The v2 members of a segment, collected with members(). */
async function v2Members(tenant: string, sid: string): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of v2.members(tenant, sid, 3)) out.push(...batch);
  return sorted(out);
}

/** The profile's due score in its bucket. */
const v2Due = (tenant: string, pid: string) => redis.zscore(bucket(tenant, pid).due, pid);

/** Every segment set of every bucket holds exactly the profiles whose `segs` have the segment. */
async function bucketsMatchSegs(tenant: string, pids: readonly string[]): Promise<Map<string, string[]>> {
  const expected = new Map<string, string[]>(SEGMENTS.map((s) => [s, []]));
  for (const pid of pids) for (const s of await redis.smembers(profileKeys(ns, tenant, pid).segs)) expected.get(s)?.push(pid);
  return new Map([...expected].map(([s, ids]) => [s, sorted(ids)]));
}

/** A random membership write: some segments in or out, a schedule now and then. */
function randomWrite(next: () => number, clock: number): { membership: [string, boolean][]; write: MembershipWrite | undefined } {
  const membership = SEGMENTS.filter(() => next() < 0.5).map((s): [string, boolean] => [s, next() < 0.5]);
  const r = next();
  const nextChange = next() < 0.3 ? undefined : clock + Math.floor(next() * 600_000);
  const write: MembershipWrite | undefined = r < 0.2 ? undefined : {
    at: clock, schedule: r < 0.6 ? 'lower' : 'set', nextChange, definitions: r < 0.6 ? undefined : `defs${Math.floor(next() * 3)}`,
  };
  return { membership, write };
}

void t.test('v2 membership over 8 buckets equals today\'s: changes, members, reach, due, claims', async (t) => {
  const next = random(4);
  const pids = Array.from({ length: 40 }, (_, i) => pidOf('acme', i));
  t.ok(new Set(pids.map((p) => bucketOf(p, B))).size >= 6, 'the profiles spread over the buckets');
  const versions = new Map(pids.map((p) => [p, 1]));
  let clock = T0;
  let mismatched = 0;
  let stale = 0;
  for (let i = 0; i < 800; i++) {
    const pid = pids[Math.floor(next() * pids.length)] ?? '';
    // Mostly newer evaluations, some late ones (an older version, or the same version evaluated earlier).
    const current = versions.get(pid) ?? 1;
    const version = Math.max(1, current + Math.floor(next() * 4) - 1);
    versions.set(pid, Math.max(current, version));
    clock += Math.floor(next() * 5_000) - 1_000;
    const { membership, write } = randomWrite(next, clock);
    const before = await redis.hget(profileKeys(ns, 'acme', pid).hash, 'seg_seq');
    const [c1, r2] = await Promise.all([v1.writeMembership('acme', pid, version, membership, write), v2.write('acme', pid, version, membership, write)]);
    if (JSON.stringify(c1) !== JSON.stringify(r2.changes)) mismatched++;
    if (r2.outcome === 'stale') stale++;
    if (r2.bucket !== 'ok' && r2.bucket !== 'skipped') t.fail(`write ${i}: the bucket answered ${r2.bucket}`);
    const after = await redis.hget(profileKeys(ns, 'acme', pid).hash, 'seg_seq');
    if ((r2.bucket === 'ok') !== (Number(after ?? 0) === Number(before ?? 0) + 1)) t.fail(`write ${i}: seg_seq ${before} -> ${after} with bucket ${r2.bucket}`);
  }
  t.equal(mismatched, 0, 'every write returned the same changes');
  t.ok(stale > 20, `late evaluations were refused (${stale})`);

  const reach = await v2.reach('acme', SEGMENTS);
  const fromSegs = await bucketsMatchSegs('acme', pids);
  for (const s of SEGMENTS) {
    t.same(await v2Members('acme', s), sorted(await segMembers(redis, ns, 'acme', s)), `${s}: same members`);
    t.equal(reach.get(s), await segSize(redis, ns, 'acme', s), `${s}: same reach`);
    t.same(await v2Members('acme', s), fromSegs.get(s), `${s}: the buckets hold what the profiles' segs say`);
  }
  let dueDiffers = 0;
  let scheduled = 0;
  for (const pid of pids) {
    const [d1, d2] = await Promise.all([dueOf(redis, ns, 'acme', pid), v2Due('acme', pid)]);
    if (d1 !== d2) dueDiffers++;
    if (d1 !== null) scheduled++;
    const next = await redis.hget(profileKeys(ns, 'acme', pid).hash, 'next_change');
    if (next !== d2) t.fail(`${pid}: next_change ${next}, due ${d2}`);
  }
  t.equal(dueDiffers, 0, 'same due schedule');
  t.ok(scheduled > 10, `profiles are scheduled (${scheduled})`);

  // Claims taking everything due answer the same, and leave the same leases.
  const now = clock + 300_000;
  const [k1, k2] = await Promise.all([v1.claimDue('acme', now, 1000, 30_000), v2.claimDue('acme', now, 1000, 30_000)]);
  t.ok(k1.length > 0, `profiles were due (${k1.length})`);
  t.same(k2, [...k1].sort((a, b) => a.due - b.due || a.profileId.localeCompare(b.profileId)), 'the same profiles claimed, with the same due times');
  for (const pid of pids) if ((await dueOf(redis, ns, 'acme', pid)) !== (await v2Due('acme', pid))) t.fail(`${pid}: leases differ`);
  // The claimer re-evaluates: a full evaluation sets the schedule again on both.
  for (const { profileId } of k1) {
    const v = (versions.get(profileId) ?? 1) + 1;
    versions.set(profileId, v);
    const write: MembershipWrite = { at: now, schedule: 'set', nextChange: next() < 0.5 ? undefined : now + 60_000, definitions: 'defs9' };
    const [c1, r2] = await Promise.all([v1.writeMembership('acme', profileId, v, [['s1', false]], write), v2.write('acme', profileId, v, [['s1', false]], write)]);
    t.same(r2.changes, c1, `${profileId}: same changes after the claim`);
    t.equal(await v2Due('acme', profileId), await dueOf(redis, ns, 'acme', profileId), `${profileId}: same schedule after the claim`);
  }
});

void t.test('concurrent writers: bucket writes that arrive out of order end in the profiles\' state', async (t) => {
  // Two processors (connections) writing the same profiles at once: a delta overtaken by the next
  // one is a gap for the later (repaired with a full write) and a duplicate for the earlier.
  const other = await connectRedis(REDIS_URL, 'segment-v2-test-2');
  t.teardown(() => other.quit());
  const stores = [v2, new RedisMembershipStoreV2(other, ns, B)];
  const next = random(17);
  const pids = Array.from({ length: 12 }, (_, i) => pidOf('race', i));
  const answers = new Map<string, number>();
  for (let round = 0; round < 15; round++) {
    await Promise.all(Array.from({ length: 24 }, async () => {
      const pid = pids[Math.floor(next() * pids.length)] ?? '';
      const store = stores[Math.floor(next() * stores.length)] ?? v2;
      const { membership, write } = randomWrite(next, T0 + round * 1_000);
      const r = await store.write('race', pid, round + 1, membership, write && { ...write, at: write.at + Math.floor(next() * 500) });
      answers.set(r.bucket, (answers.get(r.bucket) ?? 0) + 1);
    }));
  }
  t.ok((answers.get('ok') ?? 0) > 50, `deltas applied (${JSON.stringify([...answers])})`);
  const expected = await bucketsMatchSegs('race', pids);
  for (const s of SEGMENTS) t.same(await v2Members('race', s), expected.get(s), `${s}: the buckets hold what the profiles' segs say`);
  for (const pid of pids) {
    const [seq, nextChange] = await redis.hmget(profileKeys(ns, 'race', pid).hash, 'seg_seq', 'next_change');
    if ((await v2Due('race', pid)) !== nextChange) t.fail(`${pid}: due differs from next_change ${nextChange}`);
    if ((await redis.zscore(bucket('race', pid).profiles, pid)) !== (seq ?? null)) t.fail(`${pid}: index score differs from seg_seq ${seq}`);
  }
});

void t.test('fencing: a late evaluation cannot undo a newer one', async (t) => {
  const pid = pidOf('fence', 1);
  const newer = await v2.write('fence', pid, 5, [['s1', true], ['s2', true]], { at: T0 + 10, schedule: 'set', nextChange: T0 + 60_000, definitions: 'd' });
  t.same(newer.changes.map((c) => `${c.kind}:${c.segmentId}`), ['enter:s1', 'enter:s2']);
  t.equal(newer.seq, 1);
  t.equal(newer.bucket, 'ok');
  const olderVersion = await v2.write('fence', pid, 4, [['s1', false]], { at: T0 + 20, schedule: 'set', nextChange: undefined, definitions: 'd' });
  t.match(olderVersion, { outcome: 'stale', seq: 1, changes: [], bucket: 'skipped' }, 'an older version is refused');
  const earlier = await v2.write('fence', pid, 5, [['s2', false]], { at: T0 + 5, schedule: 'lower', nextChange: T0 + 1_000, definitions: undefined });
  t.match(earlier, { outcome: 'stale', changes: [] }, 'the same version evaluated earlier is refused');
  t.same(sorted(await redis.smembers(profileKeys(ns, 'fence', pid).segs)), ['s1', 's2']);
  t.same(await v2Members('fence', 's1'), [pid]);
  t.equal(await v2Due('fence', pid), String(T0 + 60_000), 'the schedule is the newer one');
  const nothing = await v2.write('fence', pid, 6, [['s1', true]], { at: T0 + 30, schedule: 'lower', nextChange: T0 + 90_000, definitions: undefined });
  t.match(nothing, { outcome: 'ok', seq: 1, changes: [], bucket: 'skipped' }, 'a write that changes nothing does not bump seg_seq nor touch the bucket');
  const lowered = await v2.write('fence', pid, 6, [], { at: T0 + 40, schedule: 'lower', nextChange: T0 + 30_000, definitions: undefined });
  t.match(lowered, { outcome: 'ok', seq: 2, bucket: 'ok' }, 'an earlier next change is a write of its own');
  t.equal(await v2Due('fence', pid), String(T0 + 30_000));
  t.equal(await redis.zscore(bucket('fence', pid).profiles, pid), '2', 'the index holds the seq the bucket applied');
});

void t.test('a lost bucket write is a gap, repaired with the profile\'s full state', async (t) => {
  // The profile write alone, as if the processor died before the bucket write.
  const profileOnly = defineScript(redis, 'testMembershipV2', new URL('../../src/segments/membership-v2.lua', import.meta.url), 1);
  const pid = pidOf('gap', 1);
  const pk = profileKeys(ns, 'gap', pid);
  await v2.write('gap', pid, 1, [['s1', true], ['s2', true]], { at: T0, schedule: 'set', nextChange: T0 + 1_000, definitions: 'd' });
  await profileOnly.run([pk.prefix], [2, T0 + 1, 'set', T0 + 5_000, 'd', 's2', '0', 's4', '1']);
  t.same(await v2Members('gap', 's2'), [pid], 'the bucket still has the exit it missed');
  t.equal(await v2.check('gap', pid), 'repaired', 'a redelivery\'s check finds the gap and repairs it');
  t.equal(await v2.check('gap', pid), 'ok', 'then the bucket is up to date');
  t.same(await v2Members('gap', 's2'), []);
  t.same(await v2Members('gap', 's4'), [pid]);
  t.equal(await v2Due('gap', pid), String(T0 + 5_000));

  // Lost again; the next write's delta finds the gap and sends the full state.
  await profileOnly.run([pk.prefix], [3, T0 + 2, 'set', '', 'd', 's1', '0', 's3', '1']);
  const r = await v2.write('gap', pid, 4, [['s5', true]], { at: T0 + 3, schedule: 'lower', nextChange: T0 + 9_000, definitions: undefined });
  t.match(r, { outcome: 'ok', seq: 4, bucket: 'repaired' });
  t.same(r.changes.map((c) => `${c.kind}:${c.segmentId}`), ['enter:s5']);
  const expected = await bucketsMatchSegs('gap', [pid]);
  for (const s of SEGMENTS) t.same(await v2Members('gap', s), expected.get(s), `${s} reconciled`);
  t.same(sorted(await redis.smembers(pk.segs)), ['s3', 's4', 's5']);
  t.equal(await v2Due('gap', pid), String(T0 + 9_000));
  t.equal(await redis.zscore(bucket('gap', pid).profiles, pid), '4');
  t.equal(await v2.repair('gap', pid), 'dup', 'a second full write of the same seq is a duplicate');

  // A lost write of a profile that never changes again: only the reindex job finds it.
  const quiet = pidOf('gap', 2);
  await v2.write('gap', quiet, 1, [['s1', true]], { at: T0, schedule: 'set', nextChange: undefined, definitions: 'd' });
  await profileOnly.run([profileKeys(ns, 'gap', quiet).prefix], [2, T0 + 1, 'set', T0 + 7_000, 'd', 's1', '0', 's2', '1']);
  t.same(await v2.reindex('gap', 10), { checked: 2, repaired: 1 }, 'the reindex repairs the lagging profile only');
  t.same(await v2Members('gap', 's1'), []);
  t.same(await v2Members('gap', 's2'), [quiet]);
  t.equal(await v2Due('gap', quiet), String(T0 + 7_000));
  t.same(await v2.reindex('gap', 10), { checked: 2, repaired: 0 }, 'then nothing lags');
});

void t.test('gone removes a profile everywhere; a delayed write cannot bring it back', async (t) => {
  const sync = defineScript(redis, 'testBucketSync', new URL('../../src/segments/bucket-sync.lua', import.meta.url), 1);
  const pid = pidOf('gone', 1);
  const other = pidOf('gone', 2);
  const pk = profileKeys(ns, 'gone', pid);
  for (const p of [pid, other]) await v2.write('gone', p, 1, [['s1', true], ['s3', true]], { at: T0, schedule: 'set', nextChange: T0 + 1_000, definitions: 'd' });
  // A segment the tenant no longer defines is known only from the loser's segs.
  await v2.write('gone', pid, 2, [['zz', true]]);
  t.same(await v2Members('gone', 'zz'), [pid]);
  // Merge steps M3-M4: the profile is a tombstone (its segs read, then dropped), then leaves its bucket.
  const segs = await redis.smembers(pk.segs);
  await redis.hset(pk.hash, 'state', 'merged', 'into', other);
  await redis.unlink(pk.segs);
  const now = T0 + 10_000;
  await v2.gone('gone', pid, segs, now);
  t.same(await v2Members('gone', 'zz'), [], 'removed from the segments the caller named');
  t.same(await v2Members('gone', 's1'), [other]);
  t.same(await v2Members('gone', 's3'), [other]);
  t.equal(await v2Due('gone', pid), null);
  t.equal(await redis.zscore(bucket('gone', pid).profiles, pid), String(-now), 'the index entry is a tombstone');

  t.equal(await sync.run([bucket('gone', pid).prefix], [pid, 'delta', 2, 'set', T0 + 2_000, 'enter', 's2']), 'gone', 'a delayed delta is refused');
  t.equal(await sync.run([bucket('gone', pid).prefix], [pid, 'full', 9, T0, 1, 's2']), 'gone', 'so is a full write');
  t.equal(await sync.run([bucket('gone', pid).prefix], [pid, 'check', 9]), 'gone', 'and a check');
  t.match(await v2.write('gone', pid, 2, [['s2', true]], { at: T0 + 20_000, schedule: 'set', nextChange: T0 + 30_000, definitions: 'd' }), { outcome: 'gone', into: other, changes: [] }, 'the profile refuses writes');
  await redis.hset(pk.hash, 'state', 'frozen');
  t.match(await v2.write('gone', pid, 3, [['s2', true]]), { outcome: 'gone' }, 'so does a frozen one');
  t.equal(await v2.repair('gone', pid), 'gone');
  await v2.indexProfiles('gone', [pid]);
  t.equal(await redis.zscore(bucket('gone', pid).profiles, pid), String(-now), 'indexing keeps the tombstone');
  t.same(await v2Members('gone', 's2'), []);
  t.equal((await v2.reach('gone', ['s1'])).get('s1'), 1);
});

void t.test('claiming due profiles across buckets, with leases', async (t) => {
  const pids = Array.from({ length: 40 }, (_, i) => pidOf('clock', i));
  for (const [i, pid] of pids.entries()) {
    await v2.write('clock', pid, 1, [['s1', true]], { at: T0, schedule: 'set', nextChange: T0 + i * 1_000, definitions: 'd' });
  }
  const perBucket = new Map<number, number>();
  for (const pid of pids) perBucket.set(bucketOf(pid, B), (perBucket.get(bucketOf(pid, B)) ?? 0) + 1);
  const now = T0 + 100_000;
  const lease = 30_000;
  const first = await v2.claimDue('clock', now, 16, lease);
  const byBucket = new Map<number, number>();
  for (const c of first) byBucket.set(bucketOf(c.profileId, B), (byBucket.get(bucketOf(c.profileId, B)) ?? 0) + 1);
  t.ok([...byBucket.values()].every((n) => n <= 2), 'at most ⌈16/8⌉ = 2 from each bucket');
  t.equal(first.length, [...perBucket.values()].reduce((a, n) => a + Math.min(n, 2), 0), 'each bucket gave what it had, up to 2');
  t.ok(first.every((c, i) => c.due === T0 + pids.indexOf(c.profileId) * 1_000 && (i === 0 || (first[i - 1]?.due ?? 0) <= c.due)), 'with their due times, earliest first');
  for (const c of first) if ((await v2Due('clock', c.profileId)) !== String(now + lease)) t.fail(`${c.profileId} not leased`);

  // Claiming on until nothing is due: every profile once.
  const seen = new Set(first.map((c) => c.profileId));
  for (;;) {
    const more = await v2.claimDue('clock', now, 16, lease);
    if (more.length === 0) break;
    for (const c of more) {
      if (seen.has(c.profileId)) t.fail(`${c.profileId} claimed twice during its lease`);
      seen.add(c.profileId);
    }
  }
  t.equal(seen.size, pids.length, 'every due profile claimed exactly once');
  t.same(await v2.claimDue('clock', now + lease - 1, 100, lease), [], 'nothing is due while the leases hold');
  const again = await v2.claimDue('clock', now + lease, 100, lease);
  t.equal(again.length, pids.length, 'a lease that ends leaves the profile due again');
  t.ok(again.every((c) => c.due === now + lease));
  t.same(await v2.claimDue('clock', now, 0, lease), [], 'a limit of 0 claims nothing');
});

void t.test('profile index: ZADD NX per bucket, size, sample, scan, segment delete', async (t) => {
  const pids = Array.from({ length: 60 }, (_, i) => pidOf('index', i));
  for (const pid of pids.slice(0, 50)) await redis.hset(profileKeys(ns, 'index', pid).hash, 'version', 1);
  await v2.indexProfiles('index', [...pids, ...pids.slice(0, 5)]);
  t.equal(await v2.indexSize('index'), 60);
  // 40-44 merged away (tombstones), 50-59 have no profile hash.
  const now = T0 + 60_000;
  for (const pid of pids.slice(40, 45)) {
    await v2.write('index', pid, 1, [['s1', true]]);
    await redis.hset(profileKeys(ns, 'index', pid).hash, 'state', 'merged');
    await v2.gone('index', pid, ['s1'], now);
  }
  t.equal(await v2.indexSize('index'), 60, 'tombstones count in the population');

  const next = random(11);
  const sample = await v2.sampleProfiles('index', 20, next);
  t.equal(sample.length, 20);
  t.equal(new Set(sample.map((s) => s.id)).size, 20, 'drawn without replacement');
  const all = await v2.sampleProfiles('index', 100, next);
  t.same(sorted(all.map((s) => s.id)), sorted(pids), 'n above the population draws every entry');
  t.same(sorted(all.filter((s) => s.live).map((s) => s.id)), sorted(pids.slice(0, 40).concat(pids.slice(45, 50))), 'tombstones and missing profiles are not live');

  const scanned: string[] = [];
  for await (const batch of v2.scanProfiles('index', 7, now + 1_000)) scanned.push(...batch);
  t.same(sorted(scanned), sorted([...pids.slice(0, 40), ...pids.slice(45, 50)]), 'the scan yields the live profiles once');
  t.equal(await v2.indexSize('index'), 50, 'entries with no profile left the index; recent tombstones stay');
  for await (const batch of v2.scanProfiles('index', 7, now + TOMBSTONE_MS + 1)) t.ok(batch.length > 0);
  t.equal(await v2.indexSize('index'), 45, 'tombstones older than an hour are pruned');

  const member = pids[0] ?? '';
  await v2.write('index', member, 1, [['s2', true]]);
  await v2.write('index', pids[1] ?? '', 1, [['s2', true]]);
  t.equal((await v2.reach('index', ['s2'])).get('s2'), 2);
  await v2.deleteMembers('index', 's2');
  t.equal((await v2.reach('index', ['s2'])).get('s2'), 0, 'a deleted segment\'s sets are gone from every bucket');
  t.equal(await redis.exists(bucket('index', member).segMembers('s2')), 0);
});
