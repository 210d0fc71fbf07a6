import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import type { BackfillStatus__Output } from '../../src/gen/pulse/v1/BackfillStatus.ts';
import type { EstimateSegmentResponse__Output } from '../../src/gen/pulse/v1/EstimateSegmentResponse.ts';
import type { ExplainSegmentResponse__Output } from '../../src/gen/pulse/v1/ExplainSegmentResponse.ts';
import type { ListSegmentVersionsResponse__Output } from '../../src/gen/pulse/v1/ListSegmentVersionsResponse.ts';
import type { Profile__Output } from '../../src/gen/pulse/v1/Profile.ts';
import type { Segment__Output } from '../../src/gen/pulse/v1/Segment.ts';
import type { ValidateRuleResponse__Output } from '../../src/gen/pulse/v1/ValidateRuleResponse.ts';
import { tenantKeys } from '../../src/profiles/keys.ts';
import { eventually } from '../support/env.ts';
import { startE2e } from '../support/e2e.ts';
import { ownerKey, segMembers, segSize } from '../support/keys.ts';

const ADMIN = 'admin-key-for-lifecycle-01';
const PROFILES = 3000;
const DAY = 86_400_000;
const e2e = startE2e(t, { prefix: 'e2e', keys: [{ key: ADMIN, tenant: 'acme', scopes: ['*'] }] });
const rpc = <T>(method: string, req: object) => e2e.call<T>(method === 'GetProfile' ? 'ProfileService' : 'SegmentService', method, req, ADMIN);

let published = 0;
async function publish(events: readonly Record<string, unknown>[]): Promise<void> {
  await e2e.publish('acme', events, { msgID: `${e2e.ns}-batch-${++published}` });
}

const iso = (ms: number): string => new Date(ms).toISOString();
const keys = tenantKeys(e2e.ns, 'acme');
const userKey = (id: string): string => ownerKey(e2e.ns, 'acme', { type: 'user_id', id });

/**
 * Waits until everything published so far is fully processed (Redis and ClickHouse): batches are
 * processed one after the other, so a marker seen in Redis means every earlier batch is done once
 * a second marker, published after it, is seen too.
 */
async function drained(): Promise<void> {
  for (const n of [1, 2]) {
    const marker = `marker-${published}-${n}`;
    await publish([{ type: 'identify', messageId: marker, userId: marker, traits: {}, timestamp: iso(Date.now()) }]);
    await eventually(async () => ((await e2e.redis.exists(userKey(marker))) === 1 ? true : undefined), 30_000, `marker ${marker}`);
  }
}

async function backfillDone(id: string): Promise<BackfillStatus__Output> {
  return eventually(async () => {
    const s = await rpc<BackfillStatus__Output>('GetBackfillStatus', { id });
    if (s.state === 'failed') throw new Error(`backfill failed: ${s.error}`);
    return s.state === 'done' ? s : undefined;
  }, 30_000, `backfill of ${id}`);
}

/** Profile ids of users u-<i>, by i. */
async function profileIds(): Promise<string[]> {
  const p = e2e.redis.pipeline();
  for (let i = 0; i < PROFILES; i++) p.get(userKey(`u-${i}`));
  return ((await p.exec()) ?? []).map(([, v]) => String(v));
}

const plans = new Map<number, string>();

void t.test('profiles created before the segments', async (t) => {
  const now = Date.now();
  for (let start = 0; start < PROFILES; start += 500) {
    const batch: Record<string, unknown>[] = [];
    for (let i = start; i < start + 500; i++) {
      const plan = i % 3 === 0 ? 'pro' : 'free';
      plans.set(i, plan);
      batch.push({ type: 'identify', messageId: `id-${i}`, userId: `u-${i}`, traits: { plan, tier: i % 10 }, timestamp: iso(now - 20 * DAY) });
    }
    await publish(batch);
  }
  // Users 0..99 buy: even ones twice in the last 3 days, odd ones once recently and once 10 days ago.
  const purchases: Record<string, unknown>[] = [];
  for (let i = 0; i < 100; i++) {
    purchases.push({ type: 'track', messageId: `buy-${i}-a`, userId: `u-${i}`, event: 'Purchase', properties: { revenue: 10 + i }, timestamp: iso(now - DAY) });
    purchases.push({ type: 'track', messageId: `buy-${i}-b`, userId: `u-${i}`, event: 'Purchase', properties: { revenue: 5 }, timestamp: iso(now - (i % 2 === 0 ? 2 : 10) * DAY) });
  }
  await publish(purchases);
  await drained();
  const ids = await profileIds();
  t.equal(new Set(ids).size, PROFILES, 'every user has a profile');
});

void t.test('Create, Update and versions; an update is backfilled and members leave without events', async (t) => {
  const created = await rpc<Segment__Output>('CreateSegment', { id: 'tiered', name: 'Tier 5+', rule: 'tier >= 5' });
  t.equal(created.version, '1');
  t.ok(created.backfill, 'the backfill is scheduled at once');
  const first = await backfillDone('tiered');
  t.equal(first.profilesDone, String(PROFILES + 2), 'every profile (and the 2 drain markers) evaluated');
  t.equal(await segSize(e2e.redis, e2e.ns, 'acme', 'tiered'), PROFILES / 2, 'profiles that existed before the segment entered it without new events');

  const updated = await rpc<Segment__Output>('UpdateSegment', { id: 'tiered', name: 'Tier 8+', rule: 'tier >= 8' });
  t.equal(updated.version, '2');
  t.equal(updated.createdAt?.seconds, created.createdAt?.seconds, 'creation time is kept');
  const got = await rpc<Segment__Output>('GetSegment', { id: 'tiered' });
  t.match(got, { version: '2', name: 'Tier 8+', rule: 'tier >= 8' });
  const versions = await rpc<ListSegmentVersionsResponse__Output>('ListSegmentVersions', { id: 'tiered' });
  t.same(versions.versions.map((v) => [v.version, v.name, v.rule]), [['1', 'Tier 5+', 'tier >= 5'], ['2', 'Tier 8+', 'tier >= 8']]);
  t.ok(versions.versions.every((v) => v.updatedAt !== null && v.updatedAt !== undefined), 'each version has its time');

  const second = await backfillDone('tiered');
  t.equal(second.version, '2');
  t.equal(second.exited, String(PROFILES * 3 / 10), 'tiers 5-7 left');
  t.equal(await segSize(e2e.redis, e2e.ns, 'acme', 'tiered'), PROFILES / 5);

  const cli = await e2e.cli(['segments', 'backfill', '--id', 'tiered']);
  t.equal(cli.code, 0, cli.stderr);
  t.match(cli.stdout, new RegExp(`done v2: ${PROFILES + 2}/${PROFILES + 2} profiles, 0 entered, ${PROFILES * 3 / 10} exited`));

  const refused = await rpc('UpdateSegment', { id: 'tiered', rule: 'segment(tiered)' }).then(() => undefined, (err: grpc.ServiceError) => err);
  t.match(refused, { code: grpc.status.INVALID_ARGUMENT, details: /cycle/ }, 'a self-reference is refused');
  t.equal((await rpc<Segment__Output>('GetSegment', { id: 'tiered' })).version, '2', 'a refused update writes no version');
});

void t.test('Validate names line and column, and returns both forms of a good rule', async (t) => {
  const bad = await rpc<ValidateRuleResponse__Output>('ValidateRule', { rule: 'plan = "pro"\n  and count(Purchase) in last 7 dayz >= 2' });
  t.equal(bad.valid, false);
  t.match(bad.problems[0], { field: 'rule', message: /line 2, column \d+/ });
  t.equal(bad.json, '');

  const good = await rpc<ValidateRuleResponse__Output>('ValidateRule', { rule: 'plan = "pro" and count(Purchase) in last 7 days >= 2' });
  t.same({ valid: good.valid, problems: good.problems }, { valid: true, problems: [] });
  t.same(JSON.parse(good.json), { all: [{ trait: 'plan', op: 'eq', value: 'pro' }, { event: 'Purchase', window: { last: 7, unit: 'days' }, op: 'gte', value: 2 }] });
  const back = await rpc<ValidateRuleResponse__Output>('ValidateRule', { rule: good.json });
  t.equal(back.text, good.text, 'the JSON form prints to the same text');

  const missing = await rpc<ValidateRuleResponse__Output>('ValidateRule', { rule: 'segment(nope)' });
  t.match(missing.problems, [{ message: /nope/ }], 'a reference to a missing segment is named');
});

void t.test('Estimate: the true size lies inside the 95% interval about 95% of the time', async (t) => {
  const truth = PROFILES * 3 / 10;
  const rule = 'tier >= 7';
  let inside = 0;
  const runs = 20;
  let slowest = 0;
  for (let i = 0; i < runs; i++) {
    const started = Date.now();
    const e = await rpc<EstimateSegmentResponse__Output>('EstimateSegment', { rule, sampleSize: 300 });
    slowest = Math.max(slowest, Date.now() - started);
    t.equal(e.sampleSize, '300');
    t.ok(Number(e.low) <= Number(e.estimate) && Number(e.estimate) <= Number(e.high), 'low <= estimate <= high');
    if (Number(e.low) <= truth && truth <= Number(e.high)) inside++;
  }
  t.comment(`${inside}/${runs} intervals held the true size ${truth}; slowest estimate ${slowest} ms`);
  // At 95% coverage, fewer than 15 of 20 happens with probability ~3e-4.
  t.ok(inside >= 15, `${inside}/${runs} intervals hold the truth`);

  const all = await rpc<EstimateSegmentResponse__Output>('EstimateSegment', { rule, sampleSize: 20_000 });
  t.match(all, { exact: true, estimate: String(truth), low: String(truth), high: String(truth) }, 'a sample of the whole population is exact');

  const windowed = await rpc<EstimateSegmentResponse__Output>('EstimateSegment', { rule: 'count(Purchase) in last 7 days >= 2', sampleSize: 20_000 });
  t.equal(windowed.estimate, '50', 'windowed history comes from the warehouse');
});

void t.test('a backfill reads windowed history from ClickHouse while events keep arriving', async (t) => {
  const flips: number[] = [];
  for (let i = 1; i < PROFILES; i += 13) flips.push(i);
  const created = await rpc<Segment__Output>('CreateSegment', { id: 'pro', name: 'Pro', rule: 'plan = "pro"' });
  t.equal(created.version, '1');
  const buyers = await rpc<Segment__Output>('CreateSegment', { id: 'buyers', name: 'Buyers', rule: 'count(Purchase) in last 7 days >= 2' });
  t.equal(buyers.version, '1');
  // Meanwhile plans change: real-time evaluation of the newer profile version must win.
  const now = Date.now();
  for (let k = 0; k < flips.length; k += 40) {
    const batch = flips.slice(k, k + 40).map((i) => {
      const plan = plans.get(i) === 'pro' ? 'free' : 'pro';
      plans.set(i, plan);
      return { type: 'identify', messageId: `flip-${i}`, userId: `u-${i}`, traits: { plan }, timestamp: iso(now) };
    });
    await publish(batch);
  }
  const pro = await backfillDone('pro');
  t.ok(Number(pro.profilesDone) >= PROFILES, 'every profile was evaluated');
  const buy = await backfillDone('buyers');
  t.equal(buy.entered, '50', 'profiles with two purchases in the last 7 days entered from warehouse history');
  // A new event re-evaluates its profile in real time: the history the backfill saw was seeded into
  // the features store, so the buyers stay in, and one more recent purchase brings an odd one in.
  await publish([
    ...[0, 2, 4].map((i) => ({ type: 'track', messageId: `view-${i}`, userId: `u-${i}`, event: 'View', properties: {}, timestamp: iso(Date.now()) })),
    { type: 'track', messageId: 'buy-1-c', userId: 'u-1', event: 'Purchase', properties: { revenue: 1 }, timestamp: iso(Date.now()) },
  ]);
  await drained();

  const ids = await profileIds();
  const members = new Set(await segMembers(e2e.redis, e2e.ns, 'acme', 'pro'));
  const wrong = ids.filter((pid, i) => members.has(pid) !== (plans.get(i) === 'pro'));
  t.same(wrong, [], 'membership matches every profile\'s latest plan');
  const buyerIds = new Set(await segMembers(e2e.redis, e2e.ns, 'acme', 'buyers'));
  t.same([...buyerIds].sort(), ids.slice(0, 100).filter((_, i) => i % 2 === 0 || i === 1).sort(), 'exactly the even buyers, and u-1 after its new purchase');
});

void t.test('Explain says which conditions held and what they saw', async (t) => {
  const e = await rpc<ExplainSegmentResponse__Output>('ExplainSegment', { id: 'buyers', identifiers: [{ type: 'user_id', id: 'u-2' }] });
  t.equal(e.result, true);
  t.equal(e.member, true);
  t.match(e.explanationText, /\[x\] count\(Purchase\) in last 7 days >= 2 {3}\(saw/);
  const odd = await rpc<ExplainSegmentResponse__Output>('ExplainSegment', { rule: 'tier >= 3 and count(Purchase) in last 7 days >= 2', identifiers: [{ type: 'user_id', id: 'u-3' }] });
  t.equal(odd.result, false);
  t.match(odd.explanationText, /\[ \] all\n {2}\[x\] tier >= 3 .*\n {2}\[ \] count\(Purchase\) in last 7 days >= 2/);
  const tree = JSON.parse(odd.explanationJson) as { all: { result: boolean; observed: unknown }[] };
  t.same(tree.all.map((c) => c.result), [true, false]);
  const profile = await rpc<Profile__Output>('GetProfile', { identifiers: [{ type: 'user_id', id: 'u-3' }] });
  t.equal(odd.profileId, profile.id);
  await t.rejects(rpc('ExplainSegment', { id: 'buyers', identifiers: [{ type: 'user_id', id: 'nobody' }] }), { code: grpc.status.NOT_FOUND });
});

void t.test('Delete forgets versions and progress', async (t) => {
  await rpc('DeleteSegment', { id: 'tiered' });
  await t.rejects(rpc('ListSegmentVersions', { id: 'tiered' }), { code: grpc.status.NOT_FOUND });
  t.equal(await e2e.redis.exists(keys.segmentVersions('tiered'), keys.backfill('tiered')), 0);
});
