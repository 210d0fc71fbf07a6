import t from 'tap';
import type { NatsConnection } from '@nats-io/transport-node';
import { EmbeddedWarehouse } from '../../src/infra/clickhouse-embedded.ts';
import { createMetrics } from '../../src/infra/metrics.ts';
import { connectNats, ensureStreams } from '../../src/infra/nats.ts';
import { connectRedis, type RedisClient } from '../../src/infra/redis.ts';
import { newSegment } from '../../src/segments/model.ts';
import { RedisSegmentStore } from '../../src/segments/segment.redis.ts';
import { schemaStatements } from '../../src/warehouse/schema.ts';
import { cleanupNamespace, NATS_URL, REDIS_URL, tempDir, uniqueNamespace } from '../support/env.ts';
import { dueOf, profileKeysOf, segMembers, segsOf as segsIn } from '../support/keys.ts';
import { startRealtime, type RealtimeHarness } from '../support/realtime.ts';

const ns = uniqueNamespace('rt');
const dir = tempDir();
const metrics = createMetrics();
const HOUR = 3_600_000;
let clock = Date.parse('2026-06-01T12:00:00Z');
let nc: NatsConnection;
let redis: RedisClient;
let warehouse: EmbeddedWarehouse;
let rt: RealtimeHarness;

t.before(async () => {
  nc = await connectNats(NATS_URL, 'realtime-test');
  await ensureStreams(nc, ns, 5_000);
  redis = await connectRedis(REDIS_URL, 'realtime-test');
  warehouse = new EmbeddedWarehouse(dir.path);
  for (const ddl of schemaStatements(ns)) await warehouse.exec(ddl);
  const segments = new RedisSegmentStore(redis, ns);
  const define = (id: string, rule: string) => segments.create('acme', newSegment({ id, name: id, rule }, clock));
  await define('big_spender', 'sum(Purchase.revenue where currency = "EUR") in last 7 days >= 100');
  await define('pro', 'plan = "pro"');
  await define('pro_spender', 'segment(big_spender) and segment(pro)');
  await define('visitor', 'count(Visit) >= 1');
  rt = await startRealtime(nc, redis, warehouse, ns, metrics, () => clock);
});

t.teardown(async () => {
  await rt.stop();
  await warehouse.close();
  await redis.quit();
  await nc.close();
  await cleanupNamespace(ns);
  dir.remove();
});

const at = (ms: number) => new Date(ms).toISOString();
const segsOf = async (pid: string) => segsIn(redis, ns, 'acme', pid);
let pid = '';
let entered = 0;

void t.test('events enter the segments they make true, with windows, filters and references', async (t) => {
  await rt.publish('acme', { type: 'identify', messageId: 'i1', userId: 'u1', traits: { plan: 'pro' }, timestamp: at(clock - 3 * HOUR) });
  await rt.publish('acme', { type: 'track', messageId: 'p1', userId: 'u1', event: 'Purchase', properties: { revenue: 60, currency: 'EUR' }, timestamp: at(clock - 2 * HOUR) });
  await rt.publish('acme', { type: 'track', messageId: 'p2', userId: 'u1', event: 'Purchase', properties: { revenue: 500, currency: 'USD' }, timestamp: at(clock - 2 * HOUR) });
  await rt.settle();
  pid = (await rt.profiles.resolve('acme', [{ type: 'user_id', id: 'u1' }])) ?? '';
  t.ok(pid, 'the profile exists');
  t.same(await segsOf(pid), ['pro'], '60 EUR is not enough; the USD purchase does not count');

  await rt.publish('acme', { type: 'track', messageId: 'p3', userId: 'u1', event: 'Purchase', properties: { revenue: 40, currency: 'EUR' }, timestamp: at(clock - HOUR) });
  await rt.settle();
  t.same(await segsOf(pid), ['big_spender', 'pro', 'pro_spender'], '100 EUR in the week: big spender, and so pro spender');
  t.same((await segMembers(redis, ns, 'acme', 'pro_spender')), [pid], 'per-segment membership follows');

  const changes = await rt.changes();
  t.same(changes.map((c) => [c.kind, c.segmentId, c.profileId, c.subject]), [
    ['enter', 'pro', pid, `${ns}.changes.acme.segment`],
    ['enter', 'big_spender', pid, `${ns}.changes.acme.segment`],
    ['enter', 'pro_spender', pid, `${ns}.changes.acme.segment`],
  ], 'enters published on the changes stream in order');
  entered = clock;
  const due = await dueOf(redis, ns, 'acme', pid);
  t.equal(Number(due), clock - 2 * HOUR + 7 * 24 * HOUR, 'scheduled for when the oldest EUR purchase leaves the 7-day window');
});

void t.test('an event re-evaluates only the segments that depend on what it changed', async (t) => {
  // Take the profile out of `pro` behind the processor's back: only an evaluation of `pro` puts it back.
  await redis.srem(profileKeysOf(ns, 'acme', pid).segs, 'pro');
  const evaluated = async () => (await metrics.segmentEvaluations.get()).values.find((v) => v.labels['path'] === 'ingest')?.value ?? 0;
  const before = await evaluated();
  await rt.publish('acme', { type: 'track', messageId: 'v1', userId: 'u1', event: 'Visit', timestamp: at(clock - 10_000) });
  await rt.settle();
  t.same(await segsOf(pid), ['big_spender', 'pro_spender', 'visitor'], 'a Visit evaluates `visitor`, not `pro`');
  t.equal((await evaluated()) - before, 1, 'one profile evaluated');

  await rt.publish('acme', { type: 'identify', messageId: 'i2', userId: 'u1', traits: { plan: 'pro' }, timestamp: at(clock - 5_000) });
  await rt.settle();
  t.same(await segsOf(pid), ['big_spender', 'pro', 'pro_spender', 'visitor'], 'setting `plan` evaluates `pro` (and what refers to it)');
});

void t.test('a new segment is evaluated on a profile\'s next event, whatever it is', async (t) => {
  await rt.segments.create('acme', newSegment({ id: 'has_plan', name: 'Has a plan', rule: 'plan exists' }, clock));
  // The processor reuses definitions for up to a second.
  await new Promise((r) => setTimeout(r, 1_100));
  await rt.publish('acme', { type: 'track', messageId: 'v2', userId: 'u1', event: 'Visit', timestamp: at(clock - 1_000) });
  await rt.settle();
  t.ok((await segsOf(pid)).includes('has_plan'), 'a Visit does not touch `plan`, but the definitions changed: every segment was evaluated');
  t.same(await rt.segments.tenants(), ['acme'], 'the tenant is known to the segment clock');
});

void t.test('membership writes are fenced by profile version and evaluation time', async (t) => {
  const version = Number(await redis.hget(profileKeysOf(ns, 'acme', pid).hash, 'version'));
  t.same(await rt.segments.writeMembership('acme', pid, version - 1, [['pro', false]], { at: clock + 1, schedule: 'set', nextChange: undefined, definitions: undefined }), [],
    'an evaluation of an older version changes nothing');
  t.same(await rt.segments.writeMembership('acme', pid, version, [['pro', false]], { at: clock - 60_000, schedule: 'set', nextChange: undefined, definitions: undefined }), [],
    'nor does an earlier evaluation of the same version');
  t.ok((await segsOf(pid)).includes('pro'));
  t.ok(await dueOf(redis, ns, 'acme', pid), 'and its schedule is not applied either');
});

void t.test('membership history answers who was in a segment at a time', async (t) => {
  clock += HOUR;
  const left = clock;
  await rt.publish('acme', { type: 'identify', messageId: 'i3', userId: 'u1', traits: { plan: 'free' }, timestamp: at(clock - 1_000) });
  await rt.publish('acme', { type: 'identify', messageId: 'i4', userId: 'u2', traits: { plan: 'pro' }, timestamp: at(clock - 1_000) });
  await rt.settle();
  const u2 = (await rt.profiles.resolve('acme', [{ type: 'user_id', id: 'u2' }])) ?? '';
  t.same(await segsOf(pid), ['big_spender', 'has_plan', 'visitor'], 'u1 left pro and pro spender');
  const exits = (await rt.changes()).filter((c) => c.kind === 'exit');
  t.same(exits.map((c) => [c.segmentId, c.profileId]), [['pro', pid], ['pro_spender', pid]], 'exits published');

  // The query behind membersAt: the profiles whose last change at or before T is an enter.
  t.same(await rt.history.membersAt('acme', 'pro', entered - HOUR), [], 'before anyone entered');
  t.same(await rt.history.membersAt('acme', 'pro', entered), [pid], 'u1 alone while on the pro plan');
  t.same(await rt.history.membersAt('acme', 'pro', left), [u2].sort(), 'u2 after u1 switched to free');
  t.same(await rt.history.membersAt('acme', 'pro_spender', left - 1), [pid]);
  t.same(await rt.history.membersAt('acme', 'pro_spender', left), []);
  const rows = await warehouse.query<{ kind: string; n: string }>(
    `SELECT kind, count() AS n FROM ${ns}.segment_membership WHERE tenant = {t:String} GROUP BY kind ORDER BY kind`, { t: 'acme' },
  );
  t.same(rows.map((r) => [r.kind, Number(r.n)]), [['enter', 8], ['exit', 2]], 'every change is one history row (u1: 6 enters, u2: pro and has_plan)');
});
