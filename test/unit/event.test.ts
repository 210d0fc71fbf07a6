import t from 'tap';
import { decodeJsonMessage, normalizeEvent, parseTimestamp, type EventProblem, type PulseEvent } from '../../src/collection/event.ts';

const NOW = Date.UTC(2024, 4, 1, 12, 0, 0); // 2024-05-01T12:00:00Z, the default event time
const EMAIL = 'a'.repeat(64);

function accepted(input: unknown, defaultTimestamp = NOW): PulseEvent {
  const r = normalizeEvent(input, defaultTimestamp);
  if (!r.ok) throw new Error(`expected the event to be accepted, refused: ${r.problem.reason}`);
  return r.event;
}

function refused(input: unknown): EventProblem {
  const r = normalizeEvent(input, NOW);
  if (r.ok) throw new Error(`expected the event to be refused: ${JSON.stringify(input)}`);
  return r.problem;
}

const body = (v: unknown): Uint8Array => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

void t.test('identify keeps its own traits and ignores context.traits', async (t) => {
  const e = accepted({
    type: 'identify', messageId: 'm1', userId: 'u1', anonymousId: 'a1',
    traits: { plan: 'pro' }, context: { traits: { plan: 'free', age: 3 }, ip: '10.0.0.1' },
  });
  t.equal(e.type, 'identify');
  t.equal(e.messageId, 'm1');
  t.equal(e.timestamp, NOW, 'no timestamp: the default is used');
  t.equal(e.userId, 'u1');
  t.equal(e.anonymousId, 'a1');
  t.equal(e.event, '', 'identify has no name');
  t.same(e.traits, { plan: 'pro' });
  t.same(e.properties, {});
  t.same(e.context, { traits: { plan: 'free', age: 3 }, ip: '10.0.0.1' });
  t.same(e.identifiers, [{ type: 'user_id', id: 'u1' }, { type: 'anonymous_id', id: 'a1' }]);
  t.same(e.extra, {});
});

void t.test('track carries its event name and properties', async (t) => {
  const e = accepted({ type: 'track', messageId: 'm2', anonymousId: 'a1', event: 'Purchase', properties: { price: 9.5, items: [1, 2] } });
  t.equal(e.event, 'Purchase');
  t.same(e.properties, { price: 9.5, items: [1, 2] });
  t.equal(e.userId, undefined);
  t.same(e.traits, {});
  t.same(e.identifiers, [{ type: 'anonymous_id', id: 'a1' }]);
});

void t.test('page and screen take their name; a missing or null name is empty', async (t) => {
  t.equal(accepted({ type: 'page', messageId: 'm', userId: 'u', name: 'Home' }).event, 'Home');
  t.equal(accepted({ type: 'page', messageId: 'm', userId: 'u' }).event, '');
  t.equal(accepted({ type: 'page', messageId: 'm', userId: 'u', name: null }).event, '');
  t.equal(accepted({ type: 'screen', messageId: 'm', userId: 'u', name: 'Settings' }).event, 'Settings');
  t.equal(accepted({ type: 'group', messageId: 'm', userId: 'u', groupId: 'g1', name: 'ignored' }).event, '', 'group has no name');
});

void t.test('alias adds previousId as an identifier of the matching kind', async (t) => {
  const withUser = accepted({ type: 'alias', messageId: 'm', userId: 'u-new', previousId: 'u-old' });
  t.same(withUser.identifiers, [{ type: 'user_id', id: 'u-new' }, { type: 'user_id', id: 'u-old' }]);
  const anonymous = accepted({ type: 'alias', messageId: 'm', anonymousId: 'a-new', previousId: 'a-old' });
  t.same(anonymous.identifiers, [{ type: 'anonymous_id', id: 'a-new' }, { type: 'anonymous_id', id: 'a-old' }]);
  t.same(withUser.extra, { previousId: 'u-old' }, 'previousId is kept in extra');
  const track = accepted({ type: 'track', event: 'x', messageId: 'm', userId: 'u', previousId: 'ignored' });
  t.same(track.identifiers, [{ type: 'user_id', id: 'u' }], 'previousId only counts as an identifier for alias');
});

void t.test('extra keeps previousId and groupId as given', async (t) => {
  t.same(accepted({ type: 'group', messageId: 'm', userId: 'u', groupId: 'g1' }).extra, { groupId: 'g1' });
  t.same(accepted({ type: 'identify', messageId: 'm', userId: 'u' }).extra, {}, 'empty when neither is given');
  t.equal(refused({ type: 'group', messageId: 'm', userId: 'u', groupId: '' }).field, 'groupId', 'an empty groupId is refused');
  t.equal(refused({ type: 'alias', messageId: 'm', userId: 'u', previousId: 7 }).field, 'previousId', 'previousId must be a string');
});

void t.test('parseTimestamp: ISO-8601, epoch seconds, epoch milliseconds, numeric strings', async (t) => {
  const ms = Date.UTC(2024, 4, 1, 12, 0, 0);
  t.equal(parseTimestamp('2024-05-01T12:00:00Z'), ms);
  t.equal(parseTimestamp('2024-05-01T12:00:00.250Z'), ms + 250);
  t.equal(parseTimestamp('2024-05-01T14:00:00+02:00'), ms, 'offsets are honoured');
  t.equal(parseTimestamp('2024-05-01'), Date.UTC(2024, 4, 1), 'a date alone is UTC midnight');
  t.equal(parseTimestamp(ms / 1000), ms, 'epoch seconds');
  t.equal(parseTimestamp(ms / 1000 + 0.5), ms + 500, 'fractional epoch seconds');
  t.equal(parseTimestamp(ms), ms, 'epoch milliseconds');
  t.equal(parseTimestamp(ms + 0.4), ms, 'milliseconds are rounded');
  t.equal(parseTimestamp(String(ms / 1000)), ms, 'numeric string of seconds');
  t.equal(parseTimestamp(String(ms)), ms, 'numeric string of milliseconds');
  t.equal(parseTimestamp('1714564800.25'), ms + 250, 'numeric string with a fraction');
  t.equal(parseTimestamp(0), 0);
  t.equal(parseTimestamp(99_999_999), 99_999_999_000, 'below 1e11 is seconds');
  t.equal(parseTimestamp(99_999_999_999), undefined, 'seconds beyond 2100 are refused');
  t.equal(parseTimestamp(100_000_000_000), 100_000_000_000, 'from 1e11 on is milliseconds');
  t.equal(parseTimestamp('yesterday'), undefined);
  t.equal(parseTimestamp('2024-13-45T00:00:00Z'), undefined);
  t.equal(parseTimestamp('12abc'), undefined);
});

void t.test('event timestamps go through parseTimestamp; invalid ones name the field', async (t) => {
  const base = { type: 'track', event: 'x', messageId: 'm', userId: 'u' };
  const ms = Date.UTC(2024, 0, 2, 3, 4, 5);
  t.equal(accepted({ ...base, timestamp: '2024-01-02T03:04:05Z' }).timestamp, ms);
  t.equal(accepted({ ...base, timestamp: ms / 1000 }).timestamp, ms);
  t.equal(accepted({ ...base, timestamp: ms }).timestamp, ms);
  t.equal(accepted({ ...base, timestamp: String(ms) }).timestamp, ms);
  t.equal(accepted({ ...base, timestamp: String(ms / 1000) }).timestamp, ms);
  t.same(refused({ ...base, timestamp: 'not a date' }), { field: 'timestamp', reason: 'timestamp: not an ISO-8601 date or epoch number between 1970 and 2100' });
  t.equal(refused({ ...base, timestamp: '' }).field, 'timestamp', 'empty string');
  t.equal(refused({ ...base, timestamp: true }).field, 'timestamp', 'boolean');
  t.equal(refused({ ...base, timestamp: { at: 1 } }).field, 'timestamp', 'object');
});

void t.test('timestamps outside 1970..2100 are refused (they would break the warehouse writer and order tokens)', async (t) => {
  const base = { type: 'track', event: 'x', messageId: 'm', userId: 'u' };
  t.equal(normalizeEvent({ ...base, timestamp: 9e15 }, NOW).ok, false, '9e15 ms');
  t.equal(normalizeEvent({ ...base, timestamp: '99999999999999999999' }, NOW).ok, false, 'a huge numeric string');
  t.equal(normalizeEvent({ ...base, timestamp: -1e14 }, NOW).ok, false, '-1e14 seconds');
  t.equal(normalizeEvent({ ...base, timestamp: '1969-12-31T23:59:59Z' }, NOW).ok, false, 'before 1970');
  t.equal(normalizeEvent({ ...base, timestamp: '2099-12-31T23:59:59Z' }, NOW).ok, true, 'the end of 2099 is accepted');
  t.equal(normalizeEvent({ ...base, timestamp: '2100-01-01T00:00:00Z' }, NOW).ok, false, '2100 is refused');
});

void t.test('messageId is required, non-empty, at most 256 characters, no control characters', async (t) => {
  const base = { type: 'track', event: 'x', userId: 'u' };
  const missing = refused(base);
  t.equal(missing.field, 'messageId');
  t.match(missing.reason, /^messageId: /);
  t.same(refused({ ...base, messageId: '' }), { field: 'messageId', reason: 'messageId: must not be empty' });
  t.same(refused({ ...base, messageId: 'x'.repeat(257) }), { field: 'messageId', reason: 'messageId: at most 256 characters' });
  t.same(refused({ ...base, messageId: 'a\u0000b' }), { field: 'messageId', reason: 'messageId: no control characters' });
  t.equal(refused({ ...base, messageId: 42 }).field, 'messageId', 'a number is not a messageId');
  t.equal(accepted({ ...base, messageId: 'x'.repeat(256) }).messageId.length, 256);
});

void t.test('type must be a Segment event type', async (t) => {
  const p = refused({ type: 'click', messageId: 'm', userId: 'u' });
  t.equal(p.field, 'type');
  t.match(p.reason, /^type: /);
  t.equal(refused({ messageId: 'm', userId: 'u' }).field, 'type', 'missing type');
});

void t.test('track without an event name is refused', async (t) => {
  t.same(refused({ type: 'track', messageId: 'm', userId: 'u' }), { field: 'event', reason: 'event: required for track' });
  t.equal(refused({ type: 'track', messageId: 'm', userId: 'u', event: '' }).field, 'event', 'empty name');
});

void t.test('an event without any identifier is refused', async (t) => {
  const want = { field: 'userId', reason: 'userId: an event needs userId, anonymousId or context.externalIds' };
  t.same(refused({ type: 'identify', messageId: 'm' }), want);
  t.same(refused({ type: 'identify', messageId: 'm', userId: null, anonymousId: null }), want, 'nulls are absent');
  t.same(refused({ type: 'identify', messageId: 'm', context: { externalIds: [] } }), want, 'an empty externalIds list');
  t.same(refused({ type: 'identify', messageId: 'm', context: { externalIds: null } }), want, 'null externalIds');
});

void t.test('userId and anonymousId given as integers become strings', async (t) => {
  const e = accepted({ type: 'identify', messageId: 'm', userId: 42, anonymousId: 7 });
  t.equal(e.userId, '42');
  t.equal(e.anonymousId, '7');
  t.same(e.identifiers, [{ type: 'user_id', id: '42' }, { type: 'anonymous_id', id: '7' }]);
  t.equal(refused({ type: 'identify', messageId: 'm', userId: 4.2 }).field, 'userId', 'not an integer');
  t.equal(refused({ type: 'identify', messageId: 'm', userId: true }).field, 'userId');
  t.equal(refused({ type: 'identify', messageId: 'm', userId: '' }).field, 'userId', 'empty');
});

void t.test('identifier values are checked: spaces at the ends and control characters name the field', async (t) => {
  const user = refused({ type: 'identify', messageId: 'm', userId: ' u1' });
  t.equal(user.field, 'userId');
  t.match(user.reason, /^userId: identifier user_id must be 1-256 printable characters without surrounding spaces$/);
  const anon = refused({ type: 'identify', messageId: 'm', userId: 'u1', anonymousId: 'a\u0007' });
  t.equal(anon.field, 'anonymousId');
  t.match(anon.reason, /^anonymousId: identifier anonymous_id/);
});

void t.test('a bad alias previousId is reported as previousId', async (t) => {
  t.equal(refused({ type: 'alias', messageId: 'm', userId: 'u1', previousId: ' old' }).field, 'previousId', 'with userId');
  t.equal(refused({ type: 'alias', messageId: 'm', anonymousId: 'a1', previousId: 'old ' }).field, 'previousId', 'with anonymousId');
});

void t.test('context.externalIds add identifiers; bad ones name their index', async (t) => {
  const e = accepted({
    type: 'track', event: 'x', messageId: 'm',
    context: { externalIds: [{ type: 'email_sha256', id: EMAIL, collection: 'users' }, { type: 'partner:acme', id: 'p:1' }, { type: 'idfa', id: 'IDFA-1' }] },
  });
  t.same(e.identifiers, [{ type: 'email_sha256', id: EMAIL }, { type: 'partner:acme', id: 'p:1' }, { type: 'idfa', id: 'IDFA-1' }], 'externalIds alone are enough; extra keys dropped');
  t.equal(e.userId, undefined);

  const unknown = refused({ type: 'track', event: 'x', messageId: 'm', userId: 'u', context: { externalIds: [{ type: 'fax', id: '1' }] } });
  t.equal(unknown.field, 'context.externalIds.0');
  t.match(unknown.reason, /^context\.externalIds\.0: unknown identifier type "fax" \(known: user_id, anonymous_id, .*partner:<name>\)$/);

  const notHex = refused({ type: 'track', event: 'x', messageId: 'm', userId: 'u', context: { externalIds: [{ type: 'idfa', id: 'ok' }, { type: 'email_sha256', id: 'A'.repeat(64) }] } });
  t.same(notHex, { field: 'context.externalIds.1', reason: 'context.externalIds.1: email_sha256 must be 64 lowercase hex characters' });
  t.equal(refused({ type: 'identify', messageId: 'm', context: { externalIds: [{ type: 'phone_sha256', id: 'not-hex' }] } }).field, 'context.externalIds.0');

  const shape = { field: 'context.externalIds', reason: 'context.externalIds: must be a list of at most 32 {type, id}' };
  t.same(refused({ type: 'identify', messageId: 'm', userId: 'u', context: { externalIds: { type: 'idfa', id: '1' } } }), shape, 'not a list');
  t.same(refused({ type: 'identify', messageId: 'm', userId: 'u', context: { externalIds: [{ type: 'idfa', id: 1 }] } }), shape, 'a numeric id');
  t.same(refused({ type: 'identify', messageId: 'm', userId: 'u', context: { externalIds: [{ type: 'idfa' }] } }), shape, 'no id');
  const many = Array.from({ length: 33 }, (_, i) => ({ type: 'cookie', id: `c${i}` }));
  t.same(refused({ type: 'identify', messageId: 'm', userId: 'u', context: { externalIds: many } }), shape, '33 entries');
  t.equal(accepted({ type: 'identify', messageId: 'm', context: { externalIds: many.slice(0, 32) } }).identifiers.length, 32, '32 entries');
});

void t.test('identifiers are de-duplicated', async (t) => {
  const e = accepted({
    type: 'identify', messageId: 'm', userId: 'u1',
    context: { externalIds: [{ type: 'user_id', id: 'u1' }, { type: 'cookie', id: 'c' }, { type: 'cookie', id: 'c' }] },
  });
  t.same(e.identifiers, [{ type: 'user_id', id: 'u1' }, { type: 'cookie', id: 'c' }]);
});

void t.test('context.traits are merged into traits for non-identify events, event traits win', async (t) => {
  const context = { traits: { plan: 'free', country: 'FR' } };
  t.same(accepted({ type: 'track', event: 'x', messageId: 'm', userId: 'u', context }).traits, { plan: 'free', country: 'FR' });
  t.same(accepted({ type: 'page', messageId: 'm', userId: 'u', context, traits: { plan: 'pro' } }).traits, { plan: 'pro', country: 'FR' });
  t.same(accepted({ type: 'identify', messageId: 'm', userId: 'u', context }).traits, {}, 'identify: not merged');
  t.same(accepted({ type: 'group', messageId: 'm', userId: 'u', context }).traits, {}, 'group: not merged');
  t.same(accepted({ type: 'track', event: 'x', messageId: 'm', userId: 'u', context: { traits: ['a'] } }).traits, {}, 'a list is ignored');
  t.same(accepted({ type: 'track', event: 'x', messageId: 'm', userId: 'u', context: { traits: 'plan' } }).traits, {}, 'a string is ignored');
});

void t.test('shape errors name the field; unknown top-level fields are allowed', async (t) => {
  t.same(refused(42), { field: 'event', reason: 'event: Invalid input: expected object, received number' });
  t.equal(refused(null).field, 'event');
  t.equal(refused({ type: 'track', event: 'x', messageId: 'm', userId: 'u', properties: [1] }).field, 'properties');
  t.equal(refused({ type: 'identify', messageId: 'm', userId: 'u', traits: 'x' }).field, 'traits');
  t.equal(refused({ type: 'identify', messageId: 'm', userId: 'u', context: 3 }).field, 'context');
  const e = accepted({ type: 'identify', messageId: 'm', userId: 'u', integrations: { All: true }, sentAt: 'whenever', properties: null });
  t.same(e.properties, {}, 'null properties are empty');
});

void t.test('decodeJsonMessage: a single event', async (t) => {
  const r = decodeJsonMessage(body({ type: 'identify', messageId: 'm1', userId: 'u1' }), NOW);
  t.equal(r.events.length, 1);
  t.equal(r.events[0]?.messageId, 'm1');
  t.equal(r.events[0]?.timestamp, NOW, 'the default timestamp is used');
  t.same(r.rejected, []);
});

void t.test('decodeJsonMessage: a batch with good and bad events reports the bad ones with their index', async (t) => {
  const bad1 = { type: 'track', messageId: 'm2', userId: 'u1' };
  const bad3 = { type: 'identify', userId: 'u1' };
  const r = decodeJsonMessage(body({
    batch: [
      { type: 'identify', messageId: 'm1', userId: 'u1' },
      bad1,
      { type: 'track', event: 'Buy', messageId: 'm3', anonymousId: 'a1', timestamp: 1_700_000_000 },
      bad3,
    ],
  }), NOW);
  t.same(r.events.map((e) => e.messageId), ['m1', 'm3']);
  t.equal(r.events[1]?.timestamp, 1_700_000_000_000);
  t.equal(r.rejected.length, 2);
  t.same(r.rejected[0], { index: 1, raw: bad1, problem: { field: 'event', reason: 'event: required for track' } });
  t.equal(r.rejected[1]?.index, 3);
  t.same(r.rejected[1]?.raw, bad3);
  t.equal(r.rejected[1]?.problem.field, 'messageId');
});

void t.test('decodeJsonMessage: a body that is not JSON refuses the whole message', async (t) => {
  for (const text of ['{"type":', '', 'hello']) {
    const r = decodeJsonMessage(body(text), NOW);
    t.same(r.events, []);
    t.equal(r.rejected.length, 1);
    const rej = r.rejected[0];
    t.equal(rej?.index, -1);
    t.equal(rej?.raw, undefined);
    t.equal(rej?.problem.field, 'body');
    t.match(rej?.problem.reason, /^body: not valid JSON \(.+\)$/, JSON.stringify(text));
  }
});

void t.test('decodeJsonMessage: an empty batch is reported', async (t) => {
  const r = decodeJsonMessage(body({ batch: [] }), NOW);
  t.same(r.events, []);
  t.same(r.rejected, [{ index: -1, raw: { batch: [] }, problem: { field: 'batch', reason: 'batch: empty' } }]);
});

void t.test('decodeJsonMessage: JSON that is not an event is rejected at index 0', async (t) => {
  const r = decodeJsonMessage(body('[1,2]'), NOW);
  t.same(r.events, []);
  t.equal(r.rejected[0]?.index, 0);
  t.equal(r.rejected[0]?.problem.field, 'event');
  const notList = decodeJsonMessage(body({ batch: 'nope' }), NOW);
  t.equal(notList.rejected[0]?.index, 0, 'batch that is not a list: the object is taken as one event');
});

void t.test('decodeJsonMessage reads only the view it is given', async (t) => {
  const whole = Buffer.from(`garbage${JSON.stringify({ type: 'identify', messageId: 'm', userId: 'u' })}garbage`);
  const view = whole.subarray(7, whole.length - 7);
  const r = decodeJsonMessage(new Uint8Array(view.buffer, view.byteOffset, view.byteLength), NOW);
  t.equal(r.events.length, 1);
  t.same(r.rejected, []);
});

void t.test('an ISO date-time without an offset is UTC in every time zone', async (t) => {
  const saved = process.env['TZ'];
  try {
    process.env['TZ'] = 'UTC';
    const utc = parseTimestamp('2024-01-01T00:00:00');
    process.env['TZ'] = 'Asia/Tokyo';
    const tokyo = parseTimestamp('2024-01-01T00:00:00');
    t.equal(utc, Date.UTC(2024, 0, 1));
    t.equal(tokyo, utc, 'same timestamp in every time zone');
    t.equal(parseTimestamp('2024-01-01 00:00:00.5'), Date.UTC(2024, 0, 1, 0, 0, 0, 500), 'ClickHouse-style text too');
  } finally {
    if (saved === undefined) delete process.env['TZ'];
    else process.env['TZ'] = saved;
  }
});
