import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import type { Event } from '../../src/gen/pulse/v1/Event.ts';
import type { SendRequest } from '../../src/gen/pulse/v1/SendRequest.ts';
import type { SendResponse__Output } from '../../src/gen/pulse/v1/SendResponse.ts';
import { toStruct, toTimestamp } from '../../src/infra/struct.ts';
import { eventually } from '../support/env.ts';
import { startE2e } from '../support/e2e.ts';
import { bearer } from '../support/pulse-process.ts';

const WRITE = 'grpc-write-key-00000000001';
const READER = 'grpc-reader-key-0000000001';
const e2e = startE2e(t, {
  prefix: 'ingest',
  keys: [
    { key: WRITE, tenant: 'acme', scopes: ['events:write'] },
    { key: READER, tenant: 'acme', scopes: ['profiles:read'] },
  ],
});

function send(req: SendRequest, md = bearer(WRITE)): Promise<SendResponse__Output> {
  return new Promise((resolve, reject) => {
    e2e.service('IngestService').Send(req, md, (err, res) => (err || res === undefined ? reject(err ?? new Error('no response')) : resolve(res)));
  });
}

/** Streams the requests, waiting for the HTTP/2 window whenever the client buffer is full. */
function sendStream(requests: readonly SendRequest[], key = WRITE): Promise<SendResponse__Output> {
  return new Promise((resolve, reject) => {
    const call = e2e.service('IngestService').SendStream(bearer(key), (err, res) => (err || res === undefined ? reject(err ?? new Error('no response')) : resolve(res)));
    void (async () => {
      for (const req of requests) {
        if (!call.write(req)) await new Promise((r) => call.once('drain', r));
      }
      call.end();
    })();
  });
}

async function countsOf(userId: string, ready: (counts: Record<string, string>) => boolean): Promise<Record<string, string>> {
  return eventually(async () => {
    const p = await e2e.clients.getProfile({ identifiers: [{ type: 'user_id', id: userId }] }, bearer(READER));
    return ready(p.eventCounts) ? p.eventCounts : undefined;
  }, 30_000, `the profile of ${userId}`);
}

const track = (messageId: string, userId: string, event: string): Event => ({ type: 'track', messageId, userId, event });

void t.test('Send stores the valid events and reports each one', async (t) => {
  const res = await send({ events: [
    { type: 'identify', messageId: 'g-1', userId: 'grpc-u1', anonymousId: 'grpc-a1', traits: toStruct({ plan: 'pro', seats: 5 }), timestamp: toTimestamp(Date.parse('2026-04-01T00:00:00Z')) },
    { type: 'track', messageId: 'g-2', userId: 'grpc-u1' },
    { ...track('g-3', 'grpc-u1', 'Order Completed'), timestamp: toTimestamp(Date.parse('2026-04-01T12:00:00Z')), properties: toStruct({ revenue: 9.5, items: ['a', 'b'], gift: { wrap: true }, coupon: null }) },
    { ...track('g-4', 'grpc-u1', 'Huge'), properties: toStruct({ blob: 'x'.repeat(33 * 1024) }) },
    { type: 'track', messageId: 'g-5', anonymousId: 'grpc-a1', event: 'Viewed', timestamp: toTimestamp(Date.parse('2026-04-02T00:00:00Z')) },
  ] });
  t.same({ accepted: res.accepted, rejected: res.rejected }, { accepted: '3', rejected: '2' });
  t.match(res.results, [
    { index: '0', accepted: true, error: null },
    { index: '1', accepted: false, error: { code: 'INVALID_ARGUMENT', field: 'event', message: /required for track/ } },
    { index: '2', accepted: true },
    { index: '3', accepted: false, error: { code: 'RESOURCE_EXHAUSTED', field: 'size' } },
    { index: '4', accepted: true },
  ]);
  t.equal(res.results.length, 5, 'one result per event');

  const profile = await eventually(async () => {
    const p = await e2e.clients.getProfile({ identifiers: [{ type: 'anonymous_id', id: 'grpc-a1' }] }, bearer(READER));
    return p.eventCounts['Viewed'] !== undefined && p.eventCounts['Order Completed'] !== undefined ? p : undefined;
  }, 20_000, 'the profile of grpc-u1');
  t.same(profile.eventCounts, { $identify: '1', 'Order Completed': '1', Viewed: '1' });
  t.same(profile.traits?.fields['seats'], { numberValue: 5, kind: 'numberValue' }, 'Struct traits arrive as JSON values');
  t.equal(profile.firstSeen?.seconds, String(Date.parse('2026-04-01T00:00:00Z') / 1000), 'the protobuf Timestamp is the event time');
  t.equal(profile.lastSeen?.seconds, String(Date.parse('2026-04-02T00:00:00Z') / 1000));
});

void t.test('Send refuses bad credentials and requests as a whole', async (t) => {
  const one = { events: [track('x-1', 'grpc-u2', 'X')] };
  await t.rejects(send(one, bearer(undefined)), { code: grpc.status.UNAUTHENTICATED });
  await t.rejects(send(one, bearer('no-such-key-0000000001')), { code: grpc.status.UNAUTHENTICATED });
  await t.rejects(send(one, bearer(READER)), { code: grpc.status.PERMISSION_DENIED, details: /events:write/ });
  await t.rejects(send({ events: [] }), { code: grpc.status.INVALID_ARGUMENT, details: /events: at least one/ });
  const big = Array.from({ length: 20 }, (_, i) => ({ ...track(`x-big-${i}`, 'grpc-u2', 'Big'), properties: toStruct({ blob: 'x'.repeat(26 * 1024) }) }));
  await t.rejects(send({ events: big }), { code: grpc.status.RESOURCE_EXHAUSTED, details: /512000/ });
  const stream = await sendStream([one]);
  t.equal(stream.accepted, '1', 'a stream of one request');
  await t.rejects(sendStream([one], READER), { code: grpc.status.PERMISSION_DENIED });
});

void t.test('SendStream takes many requests; its events and a re-sent duplicate are processed once', async (t) => {
  const users = 10;
  const perRequest = 100;
  const requests: SendRequest[] = Array.from({ length: 50 }, (_, r) => ({
    events: Array.from({ length: perRequest }, (_, i) => {
      const n = r * perRequest + i;
      // The last event of each request has no identifier at all.
      return i === perRequest - 1 ? { type: 'track', messageId: `s-${n}`, event: 'Streamed' } : track(`s-${n}`, `stream-u${n % users}`, 'Streamed');
    }),
  }));
  const started = Date.now();
  const res = await sendStream(requests);
  t.comment(`5000 events in 50 requests stored in ${Date.now() - started} ms`);
  t.equal(res.accepted, String(50 * (perRequest - 1)));
  t.equal(res.rejected, '50');
  t.same(res.results.map((r) => r.index), requests.map((_, r) => String(r * perRequest + perRequest - 1)), 'only refused events, indexed across the stream');
  t.match(res.results[0], { accepted: false, error: { code: 'INVALID_ARGUMENT', field: 'userId' } });

  // Half of the first request again (another NATS message, so JetStream does not drop it), then
  // one new event: once that is counted, the duplicates are done too.
  const again = await send({ events: (requests[0]?.events ?? []).slice(0, 50) });
  t.equal(again.accepted, '50', 'the duplicates are accepted (stored) ...');
  await send({ events: [track('s-sentinel', 'stream-u0', 'Sentinel')] });
  const expected = new Map<string, number>();
  for (const e of requests.flatMap((r) => r.events ?? [])) if (e.userId !== undefined) expected.set(e.userId, (expected.get(e.userId) ?? 0) + 1);
  const u0 = await countsOf('stream-u0', (c) => c['Sentinel'] !== undefined);
  t.same(u0, { Streamed: String(expected.get('stream-u0')), Sentinel: '1' }, '... and processed once');
  for (let u = 1; u < users; u++) {
    const want = String(expected.get(`stream-u${u}`));
    const counts = await countsOf(`stream-u${u}`, (c) => c['Streamed'] === want);
    t.same(counts, { Streamed: want }, `stream-u${u}: ${want} events`);
  }
});
