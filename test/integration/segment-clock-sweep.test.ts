import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import type { PulseEvent } from '../../src/collection/event.ts';
import { identifierKey, parseIdentifierKey } from '../../src/identity/identifier.ts';
import { createLogger } from '../../src/infra/log.ts';
import { createMetrics } from '../../src/infra/metrics.ts';
import { connectRedis, type RedisClient } from '../../src/infra/redis.ts';
import type { JsonObject } from '../../src/json.ts';
import { isOlder } from '../../src/profiles/identity-plan.ts';
import { identifierOwner, profileKeys, tenantKeys } from '../../src/profiles/keys.ts';
import { MergeRunner } from '../../src/profiles/merge.redis.ts';
import type { Merge } from '../../src/profiles/model.ts';
import { RedisProfileStoreV2 } from '../../src/profiles/profile-v2.redis.ts';
import { RedisProfileStore } from '../../src/profiles/profile.redis.ts';
import { newSegment } from '../../src/segments/model.ts';
import { RealtimeSegments, type TimedChange } from '../../src/segments/realtime.ts';
import { RedisSegmentStore } from '../../src/segments/segment.redis.ts';
import { startSegmentClock, sweepCounts, type ClockTick, type SegmentClockSinks } from '../../processors/segment-clock.ts';
import { cleanupNamespace, eventually, REDIS_URL, uniqueNamespace } from '../support/env.ts';

/*
 * Step 10 (per-profile-layout.md §3.5 (b)): the segment clock's sweeper finishes, on real Redis, a
 * merge a crash left after M2, once it is older than the lease; a failing sweep neither stops the
 * clock's segment work nor another tenant's sweep, and is logged without what its message quotes.
 */

const ns = uniqueNamespace('sweep');
const BUCKETS = 4;
const T0 = Date.parse('2026-06-01T12:00:00Z');
let redis: RedisClient;
// MergeRunner reads Date.now (it has no clock option): the test moves it, with the clock's own `now`, past the lease.
const realNow = Date.now.bind(Date);
let skew = 0;

t.before(async () => {
  redis = await connectRedis(REDIS_URL, 'sweep-test');
  Date.now = () => realNow() + skew;
});

t.teardown(async () => {
  Date.now = realNow;
  await redis.quit();
  await cleanupNamespace(ns);
});

function ev(mid: string, ts: number, ids: string[], traits: JsonObject): PulseEvent {
  return {
    type: 'track', messageId: mid, timestamp: T0 + ts * 1000, userId: undefined, anonymousId: undefined,
    event: 'Viewed', properties: {}, traits, context: { source: 'web' }, identifiers: ids.map(parseIdentifierKey), extra: {},
  };
}

/** The clock's sinks on real stores (v1 segments and profiles for the segment work); changes collected. */
function sinks(sweep: SegmentClockSinks['sweep'], changes: TimedChange[]): SegmentClockSinks {
  const segments = new RedisSegmentStore(redis, ns);
  const log = createLogger('silent');
  const realtime = new RealtimeSegments({ segments, profiles: new RedisProfileStore(redis, ns, 3600), log, metrics: createMetrics(), now: Date.now });
  return {
    realtime, segments, publishChanges: async (_t, c) => { changes.push(...c); },
    ...(sweep === undefined ? {} : { sweep }),
  };
}

async function metricValue(metrics: ReturnType<typeof createMetrics>, name: string, outcome?: string): Promise<number> {
  const m = await metrics.registry.getSingleMetric(name)?.get();
  return m?.values.find((v) => outcome === undefined || v.labels['outcome'] === outcome)?.value ?? 0;
}

void t.test('a merge crashed after M2 is finished by the clock\'s sweeper once past the lease, and counted', async (t) => {
  const tenant = 'acme';
  await new RedisSegmentStore(redis, ns).create(tenant, newSegment({ id: 'viewers', name: 'Viewers', rule: 'count(Viewed) >= 1' }, T0));
  const store = new RedisProfileStoreV2(redis, ns, 3600);
  const [a] = await store.applyEvents(tenant, [ev('a1', 1, ['anonymous_id:a-1', 'cookie:c-1'], { plan: 'free' })]);
  const [u] = await store.applyEvents(tenant, [ev('u1', 2, ['user_id:u-1'], { plan: 'pro' })]);
  if (a === undefined || u === undefined) throw new Error('profiles missing');
  const created = async (pid: string): Promise<number> => Number(await redis.hget(profileKeys(ns, tenant, pid).hash, 'created'));
  const uOlder = isOlder({ pid: u.profileId, created: await created(u.profileId) }, { pid: a.profileId, created: await created(a.profileId) });
  const [survivor, loser] = uOlder ? [u.profileId, a.profileId] : [a.profileId, u.profileId];
  const loserIds = await redis.smembers(profileKeys(ns, tenant, loser).ids);

  const crashing = new MergeRunner(redis, ns, { buckets: BUCKETS, afterStep: (s) => { if (s === 'M2') throw new Error('crash after M2'); } });
  await t.rejects(crashing.merge(tenant, { survivor, loser, messageId: 'link-1' }), { message: 'crash after M2' });
  t.equal(await redis.hget(profileKeys(ns, tenant, loser).hash, 'state'), 'frozen', 'the crash left the loser frozen');
  const journal = crashing.journalKey(tenant, loser);
  t.equal(await redis.zcard(journal), 1, 'and its merge in the journal');

  const published: Merge[] = [];
  const sweeper = new MergeRunner(redis, ns, { buckets: BUCKETS, publish: async (_t, m) => { published.push(m); } });
  const metrics = createMetrics();
  let clock = T0;
  const ticks: ClockTick[] = [];
  const running = startSegmentClock(sinks(async (tn) => sweepCounts((await sweeper.sweep(tn)).values()), []), {
    periodMs: 20, sweepPeriodMs: 10_000, log: createLogger('silent'), metrics, now: () => clock,
  }, (tick) => ticks.push(tick));
  try {
    await eventually(async () => (ticks.length >= 3 ? true : undefined), 10_000, 'three passes');
    const early = ticks.slice(0, 3);
    t.same(early[0]?.swept, { finished: 0, aborted: 0, pending: 0, failed: 0 }, 'the first pass sweeps: nothing is older than the lease yet');
    t.same(early.slice(1).map((k) => k.swept), [undefined, undefined], 'later passes within the sweep period do not sweep');
    t.equal(await redis.hget(profileKeys(ns, tenant, loser).hash, 'state'), 'frozen', 'within the lease the merge is left to its driver');

    skew = 31_000;
    clock = T0 + 31_000;
    const swept = await eventually(async () => ticks.find((k) => k.swept !== undefined && k.swept.finished > 0)?.swept, 10_000, 'a sweep past the lease');
    t.same(swept, { finished: 1, aborted: 0, pending: 0, failed: 0 }, 'the sweep past the lease finished the merge');
  } finally {
    await running.stop();
  }
  const lk = profileKeys(ns, tenant, loser);
  t.same(await redis.hgetall(lk.hash), { state: 'merged', into: survivor, created: await redis.hget(lk.hash, 'created') ?? '' }, 'the loser is a tombstone');
  t.same(await Promise.all(loserIds.map((idf) => redis.get(identifierOwner(ns, tenant, parseIdentifierKey(idf))))), loserIds.map(() => survivor), 'the loser\'s identifiers point at the survivor');
  t.same((await redis.smembers(profileKeys(ns, tenant, survivor).ids)).sort(), ['anonymous_id:a-1', 'cookie:c-1', 'user_id:u-1'], 'the survivor holds every identifier');
  t.same(await redis.smembers(profileKeys(ns, tenant, survivor).merged), [loser], 'the survivor lists the loser as merged');
  t.equal(await redis.exists(profileKeys(ns, tenant, survivor).absorbing), 0, 'no absorbing entry left');
  t.equal(await redis.zcard(journal), 0, 'the journal is empty');
  t.same(published.map((m) => [m.survivor, m.merged, m.identifiers.map(identifierKey).sort()]), [[survivor, loser, loserIds.sort()]], 'merge:<L> published by the sweeper');
  t.equal(await metricValue(metrics, 'pulse_merge_sweeps_total', 'finished'), 1, 'pulse_merge_sweeps_total{outcome="finished"} counted it');
  t.equal(await metricValue(metrics, 'pulse_merge_sweeps_total', 'failed'), 0, 'no failed sweep');
  t.equal(await metricValue(metrics, 'pulse_merge_jobs_pending'), 0, 'nothing pending');
  skew = 0;
});

void t.test('a failing sweep is counted and logged without its message; the segment work and other tenants go on', async (t) => {
  const [ok, bad] = ['good', 'broken'];
  const segs = new RedisSegmentStore(redis, ns);
  for (const tn of [ok, bad]) await segs.create(tn, newSegment({ id: 'planned', name: 'Has a plan', rule: 'plan exists' }, T0));
  const v1 = new RedisProfileStore(redis, ns, 3600);
  const [p] = await v1.applyEvents(bad, [ev('b1', 1, ['user_id:someone@example.com'], { plan: 'pro' })]);
  if (p === undefined) throw new Error('profile missing');
  // Due now: the clock takes it in its next pass.
  await redis.zadd(tenantKeys(ns, bad).due, T0, p.profileId);
  const swept: string[] = [];
  const sweep = async (tn: string): Promise<{ finished: number; aborted: number; pending: number }> => {
    swept.push(tn);
    if (tn === bad) throw new Error('script failed on id:email:someone@example.com');
    return { finished: 0, aborted: 0, pending: 2 };
  };
  const lines: string[] = [];
  const log = pino({ level: 'error' }, new Writable({ write(chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done(); } }));
  const metrics = createMetrics();
  const changes: TimedChange[] = [];
  const ticks: ClockTick[] = [];
  const running = startSegmentClock(sinks(sweep, changes), { periodMs: 20, log, metrics, now: () => T0 }, (tick) => ticks.push(tick));
  try {
    await eventually(async () => (ticks.length >= 2 ? true : undefined), 10_000, 'two passes');
  } finally {
    await running.stop();
  }
  t.same(swept.filter((x) => x === ok || x === bad).sort(), [bad, ok], 'both tenants were swept once in the period');
  t.same(ticks[0]?.failed, false, 'the pass did not fail');
  t.equal(ticks[0]?.swept?.failed, 1, 'the pass counts the tenant whose sweep threw');
  t.ok(ticks.some((k) => k.evaluated >= 1), 'the due profile was evaluated all the same');
  t.same(changes.filter((c) => c.profileId === p.profileId).map((c) => [c.kind, c.segmentId]), [['enter', 'planned']], 'and entered its segment');
  t.equal(await metricValue(metrics, 'pulse_merge_sweeps_total', 'failed'), 1, 'pulse_merge_sweeps_total{outcome="failed"} counted it');
  t.ok(await metricValue(metrics, 'pulse_merge_jobs_pending') >= 2, 'the gauge shows what the other tenant left pending');
  const logged = lines.join('');
  t.match(logged, /merge sweep of a tenant failed/, 'the failure is logged');
  t.match(logged, /"tenant":"broken"/, 'with its tenant');
  t.notMatch(logged, /someone@example\.com/, 'but not the identifier its message quoted');
});
