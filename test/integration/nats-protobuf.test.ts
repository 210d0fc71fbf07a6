import t from 'tap';
import { join } from 'node:path';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { RedisClient } from '../../src/infra/redis.ts';
import protobuf from 'protobufjs';
import { lastValueFrom, toArray } from 'rxjs';
import { DLQ_HEADERS, natsDeadLetter } from '../../src/collection/dlq.nats.ts';
import { EmbeddedWarehouse } from '../../src/infra/clickhouse-embedded.ts';
import { jetStreamSource } from '../../src/infra/jetstream-source.ts';
import { createLogger } from '../../src/infra/log.ts';
import { createMetrics } from '../../src/infra/metrics.ts';
import { streamNames } from '../../src/infra/nats.ts';
import { PROTO_DIR } from '../../src/infra/proto.ts';
import { RedisProfileStore } from '../../src/profiles/profile.redis.ts';
import { natsSegmentChanges } from '../../src/segments/changes.nats.ts';
import { RedisSegmentStore } from '../../src/segments/segment.redis.ts';
import { EventWriter } from '../../src/warehouse/events.ts';
import { ingest } from '../../processors/ingest.ts';
import { eventually, uniqueNamespace } from '../support/env.ts';
import { openTestStack, type TestStack } from '../support/stack.ts';

const ns = uniqueNamespace('pb');
const names = streamNames(ns);
let nc: NatsConnection;
let redis: RedisClient;
let warehouse: EmbeddedWarehouse;

// A producer's view: protobufjs with the contract from proto/, nothing from Pulse's decoder.
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => join(PROTO_DIR, target);
root.loadSync('pulse/v1/ingest.proto');
const SendRequest = root.lookupType('pulse.v1.SendRequest');
const Event = root.lookupType('pulse.v1.Event');

let stack: TestStack;

t.before(async () => {
  stack = await openTestStack(ns, 'protobuf-test');
  ({ nc, redis, warehouse } = stack);
});

t.teardown(() => stack.close());

async function publish(body: Uint8Array | string, contentType: string, msgId: string): Promise<void> {
  const h = headers();
  h.set('Content-Type', contentType);
  await jetstream(nc).publish(names.eventsSubject('acme'), body, { headers: h, msgID: msgId });
}

void t.test('JSON and protobuf on the same subject build one profile; a corrupt protobuf body is dead-lettered', async (t) => {
  await publish(JSON.stringify({ type: 'identify', messageId: 'j-1', userId: 'pb-u1', traits: { plan: 'pro' }, timestamp: '2026-05-01T00:00:00Z' }), 'application/json', 'j-1');
  const batch = SendRequest.encode(SendRequest.fromObject({ events: [
    {
      type: 'track', messageId: 'p-1', userId: 'pb-u1', event: 'Purchase',
      timestamp: { seconds: Date.parse('2026-05-01T00:05:00Z') / 1000, nanos: 0 },
      properties: { fields: { revenue: { numberValue: 19.9 }, sku: { stringValue: 'A-1' }, tags: { listValue: { values: [{ stringValue: 'x' }] } } } },
    },
    { type: 'track', messageId: 'p-2', event: 'Purchase' },
  ] })).finish();
  await publish(batch, 'application/x-protobuf', 'p-batch');
  const single = Event.encode(Event.fromObject({ type: 'page', messageId: 'p-3', anonymousId: 'pb-a1', userId: 'pb-u1', name: 'Home', timestamp: { seconds: Date.parse('2026-05-01T00:06:00Z') / 1000 } })).finish();
  await publish(single, 'application/x-protobuf; messageType=pulse.v1.Event', 'p-single');
  const corrupt = batch.slice(0, batch.length - 7);
  await publish(corrupt, 'application/x-protobuf', 'p-corrupt');

  const profiles = new RedisProfileStore(redis, ns, 3600);
  const source = await jetStreamSource(nc, names.events, names.processorDurable, 100);
  const done = lastValueFrom(ingest(source.iterator, {
    profiles, segments: new RedisSegmentStore(redis, ns), events: new EventWriter(warehouse, ns),
    deadLetter: natsDeadLetter(nc, ns), publishChanges: natsSegmentChanges(nc, ns),
  }, { namespace: ns, batchSize: 50, batchWaitMs: 20, concurrency: 1, log: createLogger('silent'), metrics: createMetrics() }).pipe(toArray()));
  const jsm = await jetstreamManager(nc);
  await eventually(async () => {
    const info = await jsm.consumers.info(names.events, names.processorDurable);
    return info.num_ack_pending === 0 && info.num_pending === 0 && info.ack_floor.stream_seq >= 4 ? true : undefined;
  }, 20_000, 'four messages acked');
  await source.stop();
  const reports = await done;
  t.equal(reports.filter((r) => r.failed).length, 0, 'no batch failed');
  t.equal(reports.reduce((n, r) => n + r.applied, 0), 3, 'three events applied: one JSON, two protobuf');

  const pid = await profiles.resolve('acme', [{ type: 'anonymous_id', id: 'pb-a1' }]);
  t.ok(pid);
  const profile = await profiles.get('acme', pid ?? '');
  t.same(profile?.eventCounts, { $identify: 1, Purchase: 1, $page: 1 });
  t.same(profile?.traits, { plan: 'pro' });
  t.equal(profile?.lastSeen, Date.parse('2026-05-01T00:06:00Z'), 'protobuf timestamps are event times');

  const rows = await warehouse.query<{ message_id: string; properties: string }>(
    `SELECT message_id, properties FROM ${ns}.events FINAL WHERE tenant = {t:String} AND message_id = 'p-1'`, { t: 'acme' },
  );
  t.same(rows.map((r) => JSON.parse(r.properties) as unknown), [{ revenue: 19.9, sku: 'A-1', tags: ['x'] }], 'Struct properties stored as JSON');

  t.equal((await jsm.streams.info(names.dlq)).state.messages, 2, 'two dead letters');
  const dlq = await jetstream(nc).consumers.get(names.dlq);
  const letters: { field: string | undefined; index: string | undefined; reason: string | undefined; body: Uint8Array }[] = [];
  for await (const m of await dlq.fetch({ max_messages: 2, expires: 2_000 })) {
    letters.push({ field: m.headers?.get(DLQ_HEADERS.field), index: m.headers?.get(DLQ_HEADERS.index), reason: m.headers?.get(DLQ_HEADERS.reason), body: m.data });
    if (letters.length === 2) break;
  }
  const byIndex = Object.fromEntries(letters.map((l) => [l.index ?? '', l] as const));
  t.match(byIndex['1'], { field: 'userId', reason: /needs userId, anonymousId or context.externalIds/ }, 'the refused event of the protobuf batch');
  t.same(JSON.parse(Buffer.from(byIndex['1']?.body ?? []).toString()), { type: 'track', messageId: 'p-2', event: 'Purchase' }, 'kept as JSON, replayable');
  t.match(byIndex['-1'], { field: 'body', reason: /body: not a valid pulse\.v1\.SendRequest/ }, 'the corrupt body, with the reason');
  t.same(Buffer.from(byIndex['-1']?.body ?? []), Buffer.from(corrupt), 'the original bytes are kept');
});
