import t from 'tap';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { listDeadLetters, PREVIEW_CHARS, previewBody, replayDeadLetters } from '../../src/collection/dlq-admin.ts';
import { natsDeadLetter } from '../../src/collection/dlq.nats.ts';
import { connectNats, streamNames } from '../../src/infra/nats.ts';
import { cleanupNamespace, eventually, NATS_URL, tempDir, uniqueNamespace } from '../support/env.ts';
import { bearer, grpcClients, runCli, startPulseProcess, type PulseProcess } from '../support/pulse-process.ts';

const ns = uniqueNamespace('dlq');
const names = streamNames(ns);
const dir = tempDir('pulse-dlq-');
const ADMIN = 'dlq-test-admin-key-000001';
let pulse: PulseProcess;
let nc: NatsConnection;

t.before(async () => {
  pulse = await startPulseProcess({ PULSE_NAMESPACE: ns, PULSE_DATA_DIR: dir.path, PULSE_API_KEYS: JSON.stringify([{ key: ADMIN, tenant: 'acme', scopes: ['*'] }]) });
  nc = await connectNats(NATS_URL, 'dlq-admin-test');
});

t.teardown(async () => {
  await nc.close();
  await pulse.stop('SIGKILL');
  await cleanupNamespace(ns);
  dir.remove();
});

async function publish(tenant: string, body: string | object): Promise<void> {
  const h = headers();
  h.set('Content-Type', 'application/json');
  await jetstream(nc).publish(names.eventsSubject(tenant), typeof body === 'string' ? body : JSON.stringify(body), { headers: h });
}

async function dlqSize(): Promise<number> {
  return (await (await jetstreamManager(nc)).streams.info(names.dlq)).state.messages;
}

const SECRET = 'ann.secret@example.com';

void t.test('dead letters are listed with their reason and a short, masked preview; replay moves them back', async (t) => {
  await publish('acme', { type: 'track', messageId: 'no-name', userId: 'u-1', traits: { email: SECRET }, properties: { note: 'x'.repeat(500) } });
  await publish('acme', 'definitely not json {');
  await publish('globex', { type: 'track', messageId: 'other-tenant', userId: 'u-2' });
  await eventually(async () => ((await dlqSize()) === 3 ? true : undefined), 20_000, 'three dead letters');

  const all = await listDeadLetters(nc, ns, { limit: 10 });
  t.equal(all.total, 3);
  t.match(all.letters, [
    { tenant: 'acme', field: 'event', reason: 'event: required for track', index: '0', sourceSubject: `${ns}.events.acme`, contentType: 'application/json' },
    { tenant: 'acme', field: 'body', reason: /^body: not valid JSON/, index: '-1', preview: 'definitely not json {' },
    { tenant: 'globex', field: 'event' },
  ]);
  t.ok(all.letters.every((l) => l.preview.length <= PREVIEW_CHARS && l.time instanceof Date && l.seq > 0), 'previews are short; every letter has its sequence and time');
  t.notMatch(all.letters[0]?.preview, SECRET, 'personal values are masked in the preview');
  t.match(all.letters[0]?.preview, /"email":"\*\*\*"/);
  const acme = await listDeadLetters(nc, ns, { tenant: 'acme', limit: 1 });
  t.same(acme.letters.map((l) => l.seq), [all.letters[0]?.seq], 'a tenant filter and a limit, oldest first');
  t.equal(acme.total, 2);

  const cli = await runCli(['dlq', 'list', '--tenant', 'acme'], pulse.env);
  t.equal(cli.code, 0, cli.stderr);
  t.match(cli.stdout, /seq\s+\| tenant\s+\| time\s+\| reason\s+\| field\s+\| body/);
  t.match(cli.stdout, new RegExp(`\\n${all.letters[0]?.seq}\\s+\\| acme\\s+\\| \\d{4}-\\d\\d-\\d\\dT[^|]+\\| event: required for track\\s+\\| event\\s+\\|`));
  t.notMatch(cli.stdout, SECRET);
  t.match(cli.stdout, /\(2 rows\)/);

  // A letter whose cause is gone (say, written under a stricter rule): the real DLQ adapter writes it.
  const fixed = { type: 'track', messageId: 'fixed-1', userId: 'u-fixed', event: 'Order Completed' };
  await natsDeadLetter(nc, ns)({
    message: { subject: names.eventsSubject('acme'), data: new Uint8Array(), contentType: 'application/json', publishedAt: Date.now(), redelivered: false, seq: 424_242, ack: () => undefined, nak: () => undefined },
    index: 0, raw: fixed, problem: { field: 'event', reason: 'event: a rule since relaxed' },
  });
  const withFixed = await listDeadLetters(nc, ns, { tenant: 'acme', limit: 10 });
  const fixedSeq = withFixed.letters.find((l) => l.reason === 'event: a rule since relaxed')?.seq ?? 0;
  t.equal(await dlqSize(), 4);

  const one = await replayDeadLetters(nc, ns, { seq: fixedSeq });
  t.same(one, { replayed: 1, skipped: [] });
  t.equal(await dlqSize(), 3, 'the replayed letter left the DLQ');
  t.equal(await (await jetstreamManager(nc)).streams.getMessage(names.dlq, { seq: fixedSeq }), null);
  const c = grpcClients(pulse.grpcPort);
  t.teardown(() => c.close());
  const profile = await eventually(() => c.getProfile({ identifiers: [{ type: 'user_id', id: 'u-fixed' }] }, bearer(ADMIN)).catch(() => undefined), 20_000, 'the replayed event in a profile');
  t.same(profile.eventCounts, { 'Order Completed': '1' }, 'the processor applied the replayed event');

  const before = (await listDeadLetters(nc, ns, { tenant: 'acme', limit: 10 })).letters;
  const replay = await runCli(['dlq', 'replay', '--tenant', 'acme', '--all'], pulse.env);
  t.equal(replay.code, 0, replay.stderr);
  t.match(replay.stdout, /replayed 2 dead letters to .*events still invalid come back to the DLQ with their reason/);
  const after = await eventually(async () => {
    const l = await listDeadLetters(nc, ns, { tenant: 'acme', limit: 10 });
    return l.total === 2 && l.letters.every((x) => x.seq > Math.max(...before.map((b) => b.seq))) ? l.letters : undefined;
  }, 20_000, 'the still-invalid letters back in the DLQ');
  t.same(after.map((l) => l.reason).sort(), before.map((l) => l.reason).sort(), 'they came back with the same reasons, under new sequences');
  t.match(after.find((l) => l.field === 'body'), { preview: 'definitely not json {', sourceSubject: `${ns}.events.acme` }, 'the original body was replayed as it was');
  t.equal((await listDeadLetters(nc, ns, { tenant: 'globex', limit: 10 })).total, 1, 'another tenant’s letters were left alone');

  const missing = await runCli(['dlq', 'replay', '--seq', '999999'], pulse.env);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /no dead letter 999999/);
  const neither = await runCli(['dlq', 'replay'], pulse.env);
  t.equal(neither.code, 2);
  t.match(neither.stderr, /give either --seq N or --all/);
});

void t.test('previews of bodies that are not JSON text', async (t) => {
  t.equal(previewBody(new Uint8Array([8, 1, 18, 3]), 'application/x-protobuf'), '(4 bytes of application/x-protobuf)');
  t.equal(previewBody(Buffer.from('mail bob@corp.example now'), 'application/json'), 'mail ***@*** now');
  t.equal(previewBody(new Uint8Array(), 'application/json'), '(empty)');
  t.equal(previewBody(Buffer.from(JSON.stringify({ list: Array.from({ length: 200 }, (_, i) => i) })), 'application/json').length, PREVIEW_CHARS);
});
