import t from 'tap';
import type { PulseEvent } from '../../src/collection/event.ts';
import { byPriority, counterName, orderToken } from '../../src/profiles/model.ts';

function ev(over: Partial<PulseEvent>): PulseEvent {
  return {
    type: 'track', messageId: 'm', timestamp: 0, userId: 'u', anonymousId: undefined, event: 'Buy',
    properties: {}, traits: {}, context: {}, identifiers: [{ type: 'user_id', id: 'u' }], extra: {}, ...over,
  };
}

void t.test('orderToken is the zero-padded event time, then the messageId', async (t) => {
  t.equal(orderToken(ev({ timestamp: 1_714_564_800_000, messageId: 'm1' })), '001714564800000|m1');
  t.equal(orderToken(ev({ timestamp: 0, messageId: 'x' })), '000000000000000|x');
  t.equal(orderToken(ev({ timestamp: -5000, messageId: 'x' })), '000000000000000|x', 'times before 1970 clamp to 0');
});

void t.test('comparing tokens as strings orders by event time, then messageId', async (t) => {
  const times = [0, 9, 10, 999, 1000, 99_999_999_999, 1_714_564_800_000, 1_714_564_800_001, 253_402_300_799_999];
  const ids = ['a', 'a|b', 'ab', 'b', 'B', 'a-1', 'z'.repeat(40)];
  const events = times.flatMap((timestamp) => ids.map((messageId) => ev({ timestamp, messageId })));
  const byFields = [...events].sort((x, y) => x.timestamp - y.timestamp || (x.messageId < y.messageId ? -1 : x.messageId > y.messageId ? 1 : 0));
  const byToken = [...events].sort((x, y) => { const a = orderToken(x); const b = orderToken(y); return a < b ? -1 : a > b ? 1 : 0; });
  t.same(byToken.map((e) => [e.timestamp, e.messageId]), byFields.map((e) => [e.timestamp, e.messageId]));
  t.ok(orderToken(ev({ timestamp: 10, messageId: 'a' })) > orderToken(ev({ timestamp: 9, messageId: 'zzz' })), 'a later time wins over any messageId');
  t.ok(orderToken(ev({ timestamp: 10, messageId: 'b' })) > orderToken(ev({ timestamp: 10, messageId: 'a' })), 'same time: messageId decides');
});

void t.test('tokens order every time normalizeEvent accepts (1970 to 2100)', async (t) => {
  const last = Date.UTC(2100, 0, 1) - 1;
  t.ok(orderToken(ev({ timestamp: last })) > orderToken(ev({ timestamp: last - 1 })), 'the last accepted millisecond sorts last');
  t.ok(orderToken(ev({ timestamp: 1 })) > orderToken(ev({ timestamp: 0 })), 'the first ones sort first');
  t.ok(orderToken(ev({ timestamp: 10_000_000_000_000 - 1 })) < orderToken(ev({ timestamp: 10_000_000_000_000 })), 'a 14-digit time after a 13-digit one');
});

void t.test('counterName: track by event name, other types as $type', async (t) => {
  t.equal(counterName(ev({ type: 'track', event: 'Purchase' })), 'Purchase');
  t.equal(counterName(ev({ type: 'page', event: 'Home' })), '$page');
  t.equal(counterName(ev({ type: 'screen', event: 'Settings' })), '$screen');
  t.equal(counterName(ev({ type: 'identify', event: '' })), '$identify');
  t.equal(counterName(ev({ type: 'group', event: '' })), '$group');
  t.equal(counterName(ev({ type: 'alias', event: '' })), '$alias');
});

void t.test('byPriority: user_id, hashed PII, device ids, then the rest in their order', async (t) => {
  const input = [
    { type: 'cookie', id: 'c' },
    { type: 'anonymous_id', id: 'a' },
    { type: 'gaid', id: 'g' },
    { type: 'partner:acme', id: 'p' },
    { type: 'user_id', id: 'u' },
    { type: 'idfa', id: 'i' },
    { type: 'phone_sha256', id: 'ph' },
    { type: 'email_sha256', id: 'em' },
    { type: 'cookie', id: 'c2' },
  ];
  const copy = structuredClone(input);
  t.same(byPriority(input).map((x) => x.id), ['u', 'em', 'ph', 'i', 'g', 'c', 'a', 'p', 'c2']);
  t.same(input, copy, 'the input is not reordered');
  t.same(byPriority([]), []);
});
