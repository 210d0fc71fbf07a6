import t from 'tap';
import type { NatsConnection } from '@nats-io/transport-node';
import { EmbeddedWarehouse } from '../../src/infra/clickhouse-embedded.ts';
import { createLogger } from '../../src/infra/log.ts';
import { createMetrics } from '../../src/infra/metrics.ts';
import { connectNats, ensureStreams } from '../../src/infra/nats.ts';
import { connectRedis, type RedisClient } from '../../src/infra/redis.ts';
import { tenantKeys } from '../../src/profiles/keys.ts';
import { natsSegmentChanges } from '../../src/segments/changes.nats.ts';
import { newSegment } from '../../src/segments/model.ts';
import { RealtimeSegments } from '../../src/segments/realtime.ts';
import { RedisSegmentStore } from '../../src/segments/segment.redis.ts';
import { schemaStatements } from '../../src/warehouse/schema.ts';
import { startSegmentClock, type ClockTick, type RunningSegmentClock } from '../../processors/segment-clock.ts';
import { cleanupNamespace, eventually, NATS_URL, REDIS_URL, tempDir, uniqueNamespace } from '../support/env.ts';
import { dueOf, segMembers } from '../support/keys.ts';
import { startRealtime, type RealtimeHarness } from '../support/realtime.ts';

const ns = uniqueNamespace('clock');
const dir = tempDir();
const metrics = createMetrics();
const MINUTE = 60_000;
// The clock both paths read; the test moves it instead of waiting a minute.
let clock = Date.parse('2026-06-01T12:00:00Z');
let nc: NatsConnection;
let redis: RedisClient;
let warehouse: EmbeddedWarehouse;
let rt: RealtimeHarness;
let segmentClock: RunningSegmentClock;
const ticks: ClockTick[] = [];

t.before(async () => {
  nc = await connectNats(NATS_URL, 'clock-test');
  await ensureStreams(nc, ns, 5_000);
  redis = await connectRedis(REDIS_URL, 'clock-test');
  warehouse = new EmbeddedWarehouse(dir.path);
  for (const ddl of schemaStatements(ns)) await warehouse.exec(ddl);
  await new RedisSegmentStore(redis, ns).create('acme', newSegment({ id: 'recent_visitor', name: 'Visited in the last minute', rule: 'count(Visit) in last 1 minutes >= 1' }, clock));
  rt = await startRealtime(nc, redis, warehouse, ns, metrics, () => clock);
  const log = createLogger('silent');
  segmentClock = startSegmentClock({
    realtime: new RealtimeSegments({ segments: rt.segments, profiles: rt.profiles, features: rt.features, history: rt.history, log, metrics, now: () => clock }),
    segments: rt.segments, publishChanges: natsSegmentChanges(nc, ns),
  }, { periodMs: 100, log, metrics, now: () => clock }, (tick) => ticks.push(tick));
});

t.teardown(async () => {
  await segmentClock.stop();
  await rt.stop();
  await warehouse.close();
  await redis.quit();
  await nc.close();
  await cleanupNamespace(ns);
  dir.remove();
});

const at = (ms: number) => new Date(ms).toISOString();
const due = async (pid: string) => dueOf(redis, ns, 'acme', pid);
const members = async () => segMembers(redis, ns, 'acme', 'recent_visitor');
/** Waits for `n` more clock passes, so a test knows the clock looked. */
const passes = async (n: number) => {
  const target = ticks.length + n;
  await eventually(async () => (ticks.length >= target ? true : undefined), 10_000, `${n} clock passes`);
};

void t.test('a profile leaves a windowed segment when the window lapses, with no new event', async (t) => {
  const visit = clock;
  await rt.publish('acme', { type: 'track', messageId: 'v1', userId: 'u1', event: 'Visit', timestamp: at(visit) });
  await rt.settle();
  const pid = (await rt.profiles.resolve('acme', [{ type: 'user_id', id: 'u1' }])) ?? '';
  t.same(await members(), [pid], 'entered on the Visit');
  t.equal(Number(await due(pid)), visit + MINUTE, 'due when the Visit leaves the one-minute window');

  clock = visit + MINUTE - 1;
  await passes(3);
  t.same(await members(), [pid], 'still inside one millisecond before the lapse');

  clock = visit + MINUTE;
  const lapsed = Date.now();
  const exit = await eventually(async () => (await rt.changes()).find((c) => c.kind === 'exit'), 60_000, 'the exit on the changes stream');
  const waited = Date.now() - lapsed;
  t.match(exit, { kind: 'exit', segmentId: 'recent_visitor', profileId: pid }, 'the exit is published on the changes stream');
  t.ok(waited < MINUTE, `published ${waited} ms after the lapse (within one minute)`);
  t.equal(exit.at, at(visit + MINUTE), 'dated by the clock pass that found it: the lapse itself here');
  t.same(await members(), [], 'and membership is written');
  t.equal(await due(pid), null, 'nothing can change any more without an event: not scheduled');
  const history = await warehouse.query<{ kind: string; at: string }>(
    `SELECT kind, toString(at) AS at FROM ${ns}.segment_membership WHERE profile_id = {pid:String} ORDER BY at, kind`, { pid },
  );
  t.same(history.map((h) => h.kind), ['enter', 'exit']);
  const exitAt = Date.parse(`${(history[1]?.at ?? '').replace(' ', 'T')}Z`);
  t.ok(exitAt - (visit + MINUTE) < MINUTE && exitAt >= visit + MINUTE, 'the history dates the exit within a minute of the lapse');
  t.same(await rt.history.membersAt('acme', 'recent_visitor', visit + MINUTE - 1), [pid]);
  t.same(await rt.history.membersAt('acme', 'recent_visitor', visit + MINUTE), []);
});

void t.test('a new event before the lapse keeps the profile in: the clock reschedules instead of exiting', async (t) => {
  const first = clock;
  await rt.publish('acme', { type: 'track', messageId: 'v2', userId: 'u2', event: 'Visit', timestamp: at(first) });
  await rt.settle();
  const pid = (await rt.profiles.resolve('acme', [{ type: 'user_id', id: 'u2' }])) ?? '';
  clock = first + 50_000;
  await rt.publish('acme', { type: 'track', messageId: 'v3', userId: 'u2', event: 'Visit', timestamp: at(clock) });
  await rt.settle();

  clock = first + MINUTE;
  await eventually(async () => (Number(await due(pid)) === first + 50_000 + MINUTE ? true : undefined), 10_000, 'rescheduled to the second Visit\'s lapse');
  t.ok((await members()).includes(pid), 'the first Visit lapsed, the second holds it in');
  t.notOk((await rt.changes()).some((c) => c.kind === 'exit' && c.profileId === pid), 'no exit published');

  clock = first + 50_000 + MINUTE;
  const exit = await eventually(async () => (await rt.changes()).find((c) => c.kind === 'exit' && c.profileId === pid), 10_000, 'the exit');
  t.match(exit, { segmentId: 'recent_visitor' }, 'exit published once the second Visit lapsed');
  t.notOk((await members()).includes(pid));
});

void t.test('two processors never claim the same due profile', async (t) => {
  const other = await connectRedis(REDIS_URL, 'clock-test-2');
  t.teardown(() => other.quit());
  const a = new RedisSegmentStore(redis, ns);
  const b = new RedisSegmentStore(other, ns);
  const ids = Array.from({ length: 300 }, (_, i) => `claim-${i}`);
  await redis.zadd(tenantKeys(ns, 'other').due, ...ids.flatMap((id, i) => [i, id]));
  const [x, y] = await Promise.all([a.claimDue('other', 1_000, 200, MINUTE), b.claimDue('other', 1_000, 200, MINUTE)]);
  const claimed = [...x, ...y].map((d) => d.profileId);
  t.equal(new Set(claimed).size, claimed.length, 'no profile taken twice');
  t.same([...claimed].sort(), [...ids].sort(), 'and every due profile taken once');
  t.same(await a.claimDue('other', 1_000, 200, MINUTE), [], 'claimed profiles are leased, not due');
  t.equal((await a.claimDue('other', 1_000 + MINUTE, 500, MINUTE)).length, 300, 'due again once the lease ends (a claimer died)');
});
