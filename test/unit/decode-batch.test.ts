import t from 'tap';
import type { SourceMessage } from '../../src/collection/source.ts';
import { decodeBatch } from '../../processors/ingest.ts';

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);
let seq = 0;

function msg(subject: string, body: unknown, publishedAt = T0): SourceMessage & { acks: number; naks: number } {
  const m = {
    subject,
    data: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    contentType: 'application/json',
    publishedAt,
    redelivered: false,
    seq: ++seq,
    acks: 0,
    naks: 0,
    ack() { m.acks++; },
    nak() { m.naks++; },
  };
  return m;
}

const identify = (messageId: string, userId = 'u1') => ({ type: 'identify', messageId, userId });

void t.test('events are grouped by the tenant of their subject', async (t) => {
  const a1 = msg('ns.events.acme', identify('m1'));
  const g1 = msg('ns.events.globex', identify('m2'), T0 + 5);
  const a2 = msg('ns.events.acme', { batch: [identify('m3'), { type: 'track', event: 'Buy', messageId: 'm4', userId: 'u2', timestamp: '2024-01-01T00:00:00Z' }] });
  const d = decodeBatch([a1, g1, a2], 'ns');
  t.same([...d.byTenant.keys()], ['acme', 'globex']);
  const acme = d.byTenant.get('acme') ?? [];
  t.same(acme.map((x) => x.event.messageId), ['m1', 'm3', 'm4'], 'in message order');
  t.same(acme.map((x) => x.message.seq), [a1.seq, a2.seq, a2.seq], 'each event keeps its message');
  t.equal(acme[2]?.event.timestamp, Date.UTC(2024, 0, 1));
  const globex = d.byTenant.get('globex') ?? [];
  t.equal(globex.length, 1);
  t.equal(globex[0]?.message, g1);
  t.equal(globex[0]?.event.timestamp, T0 + 5, 'the publish time is the default event time');
  t.same(d.rejected, []);
  t.equal(a1.acks + a1.naks + g1.acks + a2.acks, 0, 'decoding is pure: nothing acked or nak\'ed');
});

void t.test('a subject without a valid tenant refuses the whole message', async (t) => {
  const subjects = ['ns.events.ACME', 'ns.events.', 'ns.events.a.b', 'ns.events.-x', 'other.events.acme', 'ns.eventsacme', 'ns.events.acme.extra', `ns.events.${'a'.repeat(65)}`];
  const messages = subjects.map((s) => msg(s, identify('m1')));
  const d = decodeBatch(messages, 'ns');
  t.equal(d.byTenant.size, 0);
  t.equal(d.rejected.length, subjects.length);
  for (const [i, r] of d.rejected.entries()) {
    t.equal(r.message, messages[i]);
    t.equal(r.index, -1);
    t.equal(r.raw, undefined);
    t.same(r.problem, { field: 'subject', reason: `subject: no valid tenant in ${JSON.stringify(subjects[i])}` });
  }
  t.equal(decodeBatch([msg(`ns.events.${'a'.repeat(64)}`, identify('m1'))], 'ns').byTenant.size, 1, '64 characters is a valid tenant');
});

void t.test('a body that is not JSON refuses the message', async (t) => {
  const bad = msg('ns.events.acme', '{"type":"identify",');
  const good = msg('ns.events.acme', identify('m2'));
  const d = decodeBatch([bad, good], 'ns');
  t.same(d.byTenant.get('acme')?.map((x) => x.event.messageId), ['m2']);
  t.equal(d.rejected.length, 1);
  const r = d.rejected[0];
  t.equal(r?.message, bad);
  t.equal(r?.index, -1);
  t.equal(r?.problem.field, 'body');
  t.match(r?.problem.reason, /^body: not valid JSON \(/);
});

void t.test('bad events of a batch are rejected one by one with their index', async (t) => {
  const noMessageId = { type: 'identify', userId: 'u1' };
  const noEvent = { type: 'track', messageId: 'm4', userId: 'u1' };
  const m = msg('ns.events.acme', { batch: [identify('m1'), noMessageId, identify('m3'), noEvent] });
  const d = decodeBatch([m], 'ns');
  t.same(d.byTenant.get('acme')?.map((x) => x.event.messageId), ['m1', 'm3']);
  t.equal(d.rejected.length, 2);
  t.same(d.rejected.map((r) => [r.index, r.problem.field]), [[1, 'messageId'], [3, 'event']]);
  t.same(d.rejected.map((r) => r.raw), [noMessageId, noEvent]);
  t.ok(d.rejected.every((r) => r.message === m));
  t.equal(d.rejected[1]?.problem.reason, 'event: required for track');
});

void t.test('a message whose events are all bad adds no tenant entry', async (t) => {
  const d = decodeBatch([msg('ns.events.acme', { batch: [{ type: 'nope' }] }), msg('ns.events.acme', { batch: [] })], 'ns');
  t.equal(d.byTenant.size, 0);
  t.same(d.rejected.map((r) => [r.index, r.problem.field]), [[0, 'type'], [-1, 'batch']]);
});

void t.test('the namespace is part of the subject', async (t) => {
  const m = msg('pulse.events.acme', identify('m1'));
  t.equal(decodeBatch([m], 'pulse').byTenant.size, 1);
  t.equal(decodeBatch([m], 'other').rejected[0]?.problem.field, 'subject');
  t.same(decodeBatch([], 'pulse'), { byTenant: new Map(), rejected: [] });
});
