import t from 'tap';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { decodeProtobufMessage, eventFromProto, isProtobuf, structToJson } from '../../src/collection/event-proto.ts';
import { normalizeEvent } from '../../src/collection/event.ts';
import { acceptWithinLimits, MAX_EVENT_BYTES } from '../../src/collection/limits.ts';
import type { Event__Output } from '../../src/gen/pulse/v1/Event.ts';
import { PROTO_DIR } from '../../src/infra/proto.ts';

const T0 = Date.UTC(2026, 0, 1);

const empty: Event__Output = {
  type: '', messageId: '', timestamp: null, userId: '', anonymousId: '', event: '', name: '',
  properties: null, traits: null, context: null, previousId: '', groupId: '',
};

void t.test('an Event becomes Segment JSON; proto3 defaults are left out', async (t) => {
  t.same(eventFromProto({ ...empty, type: 'track', messageId: 'm1', userId: 'u1', event: 'Buy' }), { type: 'track', messageId: 'm1', userId: 'u1', event: 'Buy' });
  t.same(eventFromProto({
    ...empty, type: 'alias', messageId: 'm2', userId: 'u2', previousId: 'a2', groupId: 'g',
    timestamp: { seconds: String(Date.UTC(2026, 1, 3, 4, 5, 6) / 1000), nanos: 789_000_000 },
    context: { fields: { channel: { kind: 'stringValue', stringValue: 'web' } } },
  }), {
    type: 'alias', messageId: 'm2', userId: 'u2', previousId: 'a2', groupId: 'g',
    timestamp: '2026-02-03T04:05:06.789Z', context: { channel: 'web' },
  });
});

void t.test('Struct values map onto JSON values', async (t) => {
  t.same(structToJson({ fields: {
    s: { kind: 'stringValue', stringValue: 'x' },
    n: { kind: 'numberValue', numberValue: 1.5 },
    nan: { kind: 'numberValue', numberValue: Number.NaN },
    b: { kind: 'boolValue', boolValue: false },
    z: { kind: 'nullValue', nullValue: 'NULL_VALUE' },
    unset: {},
    list: { kind: 'listValue', listValue: { values: [{ kind: 'numberValue', numberValue: 1 }, { kind: 'stringValue', stringValue: 'two' }] } },
    obj: { kind: 'structValue', structValue: { fields: { deep: { kind: 'boolValue', boolValue: true } } } },
  } }), { s: 'x', n: 1.5, nan: null, b: false, z: null, unset: null, list: [1, 'two'], obj: { deep: true } });
});

void t.test('a timestamp outside the date range is refused by validation, naming the field', async (t) => {
  const json = eventFromProto({ ...empty, type: 'identify', messageId: 'm3', userId: 'u3', timestamp: { seconds: '99999999999999999', nanos: 0 } });
  const r = normalizeEvent(json, T0);
  t.match(r, { ok: false, problem: { field: 'timestamp' } });
});

void t.test('isProtobuf reads the media type', async (t) => {
  t.ok(isProtobuf('application/x-protobuf'));
  t.ok(isProtobuf('Application/X-Protobuf; messageType=pulse.v1.Event'));
  t.ok(isProtobuf('application/protobuf'));
  t.notOk(isProtobuf('application/json'));
  t.notOk(isProtobuf('application/x-protobuffer'));
});

void t.test('decodeProtobufMessage: a SendRequest, one Event, an empty request and a corrupt body', async (t) => {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTO_DIR, target);
  root.loadSync('pulse/v1/ingest.proto');
  const SendRequest = root.lookupType('pulse.v1.SendRequest');
  const Event = root.lookupType('pulse.v1.Event');

  const body = SendRequest.encode(SendRequest.fromObject({ events: [
    { type: 'identify', messageId: 'm1', userId: 'u1', traits: { fields: { plan: { stringValue: 'pro' } } } },
    { type: 'track', messageId: 'm2', userId: 'u1' },
  ] })).finish();
  const d = decodeProtobufMessage(body, T0);
  t.same(d.events.map((e) => [e.type, e.messageId, e.timestamp, e.traits]), [['identify', 'm1', T0, { plan: 'pro' }]], 'no timestamp: the default');
  t.match(d.rejected, [{ index: 1, raw: { type: 'track', messageId: 'm2', userId: 'u1' }, problem: { field: 'event' } }]);

  const one = Event.encode(Event.fromObject({ type: 'page', messageId: 'm3', anonymousId: 'a1', name: 'Home' })).finish();
  const single = decodeProtobufMessage(one, T0, 'application/x-protobuf; messageType="pulse.v1.Event"');
  t.same(single.events.map((e) => [e.type, e.event, e.anonymousId]), [['page', 'Home', 'a1']]);

  t.match(decodeProtobufMessage(SendRequest.encode({ events: [] }).finish(), T0), { events: [], rejected: [{ index: -1, problem: { field: 'events', reason: 'events: empty' } }] });
  t.match(decodeProtobufMessage(body.slice(0, body.length - 3), T0), { events: [], rejected: [{ index: -1, problem: { field: 'body', reason: /not a valid pulse\.v1\.SendRequest/ } }] });
});

void t.test('acceptWithinLimits refuses an oversized event alone and keeps indexes', async (t) => {
  const ok = (id: string) => ({ type: 'track', messageId: id, userId: 'u', event: 'E' });
  const big = { ...ok('big'), properties: { blob: 'x'.repeat(MAX_EVENT_BYTES) } };
  const r = acceptWithinLimits([ok('a'), big, { type: 'track', messageId: 'c', userId: 'u' }, ok('d')], T0);
  t.same(r.accepted.map((e) => e['messageId']), ['a', 'd']);
  t.match(r.rejected, [{ index: 1, problem: { field: 'size', reason: /above the limit of 32768/ } }, { index: 2, problem: { field: 'event' } }]);
  t.ok(r.bytes > MAX_EVENT_BYTES, 'the JSON size of every event is counted');
});
