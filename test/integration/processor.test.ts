import t from 'tap';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { RedisClient } from '../../src/infra/redis.ts';
import { lastValueFrom, toArray } from 'rxjs';
import { DLQ_HEADERS, natsDeadLetter } from '../../src/collection/dlq.nats.ts';
import { EmbeddedWarehouse } from '../../src/infra/clickhouse-embedded.ts';
import { jetStreamSource } from '../../src/infra/jetstream-source.ts';
import { createLogger } from '../../src/infra/log.ts';
import { createMetrics } from '../../src/infra/metrics.ts';
import { streamNames } from '../../src/infra/nats.ts';
import { RedisProfileStore } from '../../src/profiles/profile.redis.ts';
import { natsSegmentChanges } from '../../src/segments/changes.nats.ts';
import { newSegment } from '../../src/segments/model.ts';
import { RedisSegmentStore } from '../../src/segments/segment.redis.ts';
import { RedisAudienceReader } from '../../src/targeting/audience.redis.ts';
import { EventWriter } from '../../src/warehouse/events.ts';
import { ingest, type BatchReport } from '../../processors/ingest.ts';
import { eventually, uniqueNamespace } from '../support/env.ts';
import { openTestStack, type TestStack } from '../support/stack.ts';

const ns = uniqueNamespace('proc');
const names = streamNames(ns);
let nc: NatsConnection;
let redis: RedisClient;
let warehouse: EmbeddedWarehouse;

let stack: TestStack;

t.before(async () => {
  stack = await openTestStack(ns, 'processor-test');
  ({ nc, redis, warehouse } = stack);
});

t.teardown(() => stack.close());

async function publish(tenant: string, body: string | object, msgId?: string): Promise<void> {
  const h = headers();
  h.set('Content-Type', 'application/json');
  await jetstream(nc).publish(names.eventsSubject(tenant), typeof body === 'string' ? body : JSON.stringify(body), {
    headers: h, ...(msgId === undefined ? {} : { msgID: msgId }),
  });
}

/** Runs the real pipeline over the stream until `expected` messages have been handled. */
async function runPipeline(expected: number): Promise<BatchReport[]> {
  const profiles = new RedisProfileStore(redis, ns, 3600);
  const segments = new RedisSegmentStore(redis, ns);
  const source = await jetStreamSource(nc, names.events, names.processorDurable, 100);
  const log = createLogger('silent');
  let handled = 0;
  const reports: BatchReport[] = [];
  const done = lastValueFrom(ingest(source.iterator, {
    profiles, segments, events: new EventWriter(warehouse, ns),
    deadLetter: natsDeadLetter(nc, ns), publishChanges: natsSegmentChanges(nc, ns),
  }, { namespace: ns, batchSize: 50, batchWaitMs: 20, concurrency: 1, log, metrics: createMetrics() }).pipe(toArray()));
  await eventually(async () => {
    const info = await (await jetstreamManager(nc)).consumers.info(names.events, names.processorDurable);
    handled = info.ack_floor.stream_seq;
    return info.num_ack_pending === 0 && info.num_pending === 0 && handled >= expected ? true : undefined;
  }, 20_000, `${expected} messages acked`);
  await source.stop();
  reports.push(...(await done));
  return reports;
}

void t.test('events build profiles and segments, land in ClickHouse, bad input goes to the DLQ', async (t) => {
  const segments = new RedisSegmentStore(redis, ns);
  await segments.create('acme', newSegment({ id: 'pro-buyers', name: 'Pro buyers', rule: '{"all":[{"trait":"plan","op":"eq","value":"pro"},{"event":"Purchase","op":"gte","count":2}]}' }, Date.now()));

  await publish('acme', { type: 'identify', messageId: 'm1', userId: 'u1', anonymousId: 'a1', traits: { plan: 'pro', email_opt_in: true }, timestamp: '2026-01-01T00:00:00Z' }, 'm1');
  await publish('acme', { type: 'track', messageId: 'm2', anonymousId: 'a1', event: 'Purchase', properties: { value: 30 }, timestamp: '2026-01-01T00:01:00Z' }, 'm2');
  await publish('acme', 'this is not json', 'bad-json');
  await publish('acme', { batch: [
    { type: 'track', messageId: 'm3', userId: 'u1', event: 'Purchase', timestamp: '2026-01-01T00:02:00Z' },
    { type: 'track', messageId: 'm4', userId: 'u1' },
    { type: 'identify', userId: 'u1', traits: { plan: 'free' } },
  ] }, 'batch-1');
  // The same event again under another NATS message id: Pulse's own de-duplication catches it.
  await publish('acme', { type: 'track', messageId: 'm3', userId: 'u1', event: 'Purchase', timestamp: '2026-01-01T00:02:00Z' }, 'm3-again');
  await publish('globex', { type: 'identify', messageId: 'g1', userId: 'u1', traits: { plan: 'enterprise' } }, 'g1');

  const reports = await runPipeline(6);
  t.equal(reports.filter((r) => r.failed).length, 0, 'no batch failed');
  t.equal(reports.reduce((n, r) => n + r.applied, 0), 4, 'four events applied (m1, m2, m3, g1)');
  t.equal(reports.reduce((n, r) => n + r.duplicates, 0), 1, 'the repeated m3 is a duplicate');
  t.equal(reports.reduce((n, r) => n + r.rejected, 0), 3, 'three rejections: the non-JSON body and two bad batch events');

  const profiles = new RedisProfileStore(redis, ns, 3600);
  const pid = await profiles.resolve('acme', [{ type: 'user_id', id: 'u1' }]);
  t.ok(pid, 'the profile resolves by user_id');
  t.equal(await profiles.resolve('acme', [{ type: 'anonymous_id', id: 'a1' }]), pid, 'and by the anonymous id it was identified with');
  const profile = await profiles.get('acme', pid ?? '');
  t.same(profile?.traits, { plan: 'pro', email_opt_in: true });
  t.same(profile?.eventCounts, { $identify: 1, Purchase: 2 }, 'Purchase counted twice, not three times');
  t.equal(profile?.firstSeen, Date.parse('2026-01-01T00:00:00Z'));
  t.equal(profile?.lastSeen, Date.parse('2026-01-01T00:02:00Z'));

  const audience = await new RedisAudienceReader(redis, ns).audience('acme', [{ type: 'user_id', id: 'u1' }]);
  t.same(audience, { profileId: pid, segments: [{ id: 'pro-buyers', name: 'Pro buyers' }] });
  const other = await new RedisAudienceReader(redis, ns).audience('globex', [{ type: 'user_id', id: 'u1' }]);
  t.same(other?.segments, [], 'the same user id in another tenant is another person with no segments');
  t.not(other?.profileId, pid);

  const rows = await warehouse.query<{ message_id: string; type: string; event: string; profile_id: string }>(
    `SELECT message_id, type, event, profile_id FROM ${ns}.events FINAL WHERE tenant = {t:String} ORDER BY message_id`, { t: 'acme' },
  );
  t.same(rows, [
    { message_id: 'm1', type: 'identify', event: '', profile_id: pid },
    { message_id: 'm2', type: 'track', event: 'Purchase', profile_id: pid },
    { message_id: 'm3', type: 'track', event: 'Purchase', profile_id: pid },
  ]);
  const raw = await warehouse.query<{ n: string }>(`SELECT count() AS n FROM ${ns}.events WHERE tenant = 'acme'`);
  t.equal(Number(raw[0]?.n), 3, 'the duplicate m3 was not written a second time');

  const jsm = await jetstreamManager(nc);
  const dlqInfo = await jsm.streams.info(names.dlq);
  t.equal(dlqInfo.state.messages, 3, 'three dead letters');
  const dlq = await jetstream(nc).consumers.get(names.dlq);
  const letters: { reason: string | undefined; field: string | undefined; index: string | undefined; subject: string; body: string }[] = [];
  for await (const m of await dlq.fetch({ max_messages: 3, expires: 2_000 })) {
    letters.push({ reason: m.headers?.get(DLQ_HEADERS.reason), field: m.headers?.get(DLQ_HEADERS.field), index: m.headers?.get(DLQ_HEADERS.index), subject: m.subject, body: m.string() });
    if (letters.length === 3) break;
  }
  const byField = Object.fromEntries(letters.map((l) => [l.field ?? '', l] as const));
  t.match(byField['body'], { subject: `${ns}.dlq.acme`, index: '-1', body: 'this is not json', reason: /not valid JSON/ });
  t.match(byField['event'], { index: '1', reason: 'event: required for track' });
  t.match(byField['messageId'], { index: '2', reason: /messageId/ });

  const changes = await jsm.streams.info(names.changes);
  t.equal(changes.state.messages, 1, 'one segment change published');
  const c = await jetstream(nc).consumers.get(names.changes);
  const msg = await c.next({ expires: 2_000 });
  t.match(msg?.json(), { kind: 'enter', segmentId: 'pro-buyers', profileId: pid });
  t.equal(msg?.subject, `${ns}.changes.acme.segment`);
});

void t.test('a later event that breaks the rule makes the profile exit the segment', async (t) => {
  await publish('acme', { type: 'identify', messageId: 'm9', userId: 'u1', traits: { plan: 'free' }, timestamp: '2026-01-02T00:00:00Z' }, 'm9');
  await runPipeline(7);
  const audience = await new RedisAudienceReader(redis, ns).audience('acme', [{ type: 'user_id', id: 'u1' }]);
  t.same(audience?.segments, []);
  const jsm = await jetstreamManager(nc);
  t.equal((await jsm.streams.info(names.changes)).state.messages, 2, 'an exit change was published');
});
