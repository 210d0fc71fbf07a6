import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { jetstreamManager } from '@nats-io/jetstream';
import type { ApiKey } from '../../src/auth/keys.ts';
import { cleanupNamespace, eventually, freePort, tempDir, uniqueNamespace } from '../support/env.ts';
import { startE2e } from '../support/e2e.ts';
import { bearer, grpcClients, startPulseProcess } from '../support/pulse-process.ts';

const READER = 'reader-key-collector-0001';
const GLOBEX_READER = 'reader-key-globex-00000001';
const W = {
  basic: 'write-key-basic-0000000001',
  partial: 'write-key-partial-00000001',
  invalid: 'write-key-invalid-00000001',
  size: 'write-key-size-000000000001',
  gzip: 'write-key-gzip-00000000001',
  rate: 'write-key-rate-00000000001',
  dedup: 'write-key-dedup-0000000001',
  globex: 'write-key-globex-000000001',
};
const RATE_LIMIT = 10;
// One key per test: the rate limit counts per key, so only the rate test comes near it.
const keys: readonly ApiKey[] = [
  { key: READER, tenant: 'acme', scopes: ['profiles:read'] },
  { key: GLOBEX_READER, tenant: 'globex', scopes: ['profiles:read'] },
  ...Object.entries(W).map(([name, key]): ApiKey => ({ key, tenant: name === 'globex' ? 'globex' : 'acme', scopes: ['events:write'] })),
];
const e2e = startE2e(t, { prefix: 'coll', keys, env: { PULSE_HTTP_RATE_LIMIT: String(RATE_LIMIT) } });

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Headers;
}

function basic(key: string): string {
  return `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
}

async function post(path: string, body: unknown, options: { key?: string | undefined; gzip?: boolean; port?: number } = {}): Promise<Answer> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.key !== undefined) headers['authorization'] = basic(options.key);
  if (options.gzip === true) headers['content-encoding'] = 'gzip';
  const res = await fetch(`http://127.0.0.1:${options.port ?? e2e.pulse.httpPort}${path}`, {
    method: 'POST', headers, body: options.gzip === true ? gzipSync(text) : text,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

/** Event counts of the acme profile of `userId` once `ready` holds for them. */
async function countsOf(userId: string, ready: (counts: Record<string, string>) => boolean, port = e2e.pulse.grpcPort, reader = READER): Promise<Record<string, string>> {
  const c = grpcClients(port);
  try {
    return await eventually(async () => {
      const p = await c.getProfile({ identifiers: [{ type: 'user_id', id: userId }] }, bearer(reader));
      return ready(p.eventCounts) ? p.eventCounts : undefined;
    }, 20_000, `the profile of ${userId}`);
  } finally {
    c.close();
  }
}

void t.test('200 only once JetStream stored the request as one JSON message', async (t) => {
  const events = [
    { type: 'identify', messageId: 'h-1', userId: 'http-u1', traits: { plan: 'pro' }, timestamp: '2026-03-01T10:00:00Z' },
    { type: 'track', messageId: 'h-2', userId: 'http-u1', event: 'Signed Up', timestamp: '2026-03-01T10:01:00Z' },
  ];
  const res = await post('/v1/batch', { batch: events }, { key: W.basic });
  t.equal(res.status, 200);
  t.same(res.body, { success: true });

  // Read right after the answer: the message is already in the stream.
  const stored = await (await jetstreamManager(e2e.nc)).streams.getMessage(`${e2e.ns.toUpperCase()}_EVENTS`, { last_by_subj: `${e2e.ns}.events.acme` });
  t.ok(stored, 'the stream holds the request');
  t.equal(stored?.header.get('Content-Type'), 'application/json');
  t.match(stored?.header.get('Nats-Msg-Id'), /^[0-9a-f]{64}$/, 'a de-duplication id derived from the messageIds');
  const wire = stored?.json<{ batch: { messageId: string; type: string }[] }>();
  t.same(wire?.batch.map((e) => [e.type, e.messageId]), [['identify', 'h-1'], ['track', 'h-2']], 'one message holds the whole batch');

  const single = await post('/v1/track', { messageId: 'h-3', userId: 'http-u1', event: 'Signed Up' }, { key: W.basic });
  t.same([single.status, single.body], [200, { success: true }], 'the single-event endpoint takes its type from the path');
  t.same(await countsOf('http-u1', (c) => c['Signed Up'] === '2'), { $identify: '1', 'Signed Up': '2' });

  const other = await post('/v1/track', { messageId: 'h-1', userId: 'http-u1', event: 'Signed Up' }, { key: W.globex });
  t.equal(other.status, 200);
  t.same(await countsOf('http-u1', (c) => c['Signed Up'] !== undefined, e2e.pulse.grpcPort, GLOBEX_READER), { 'Signed Up': '1' },
    'the tenant comes from the key: globex has its own person, and the same messageId there is another event');
  t.same(await countsOf('http-u1', () => true), { $identify: '1', 'Signed Up': '2' }, 'acme is untouched');
});

void t.test('a batch with some invalid events stores the valid ones and lists the others', async (t) => {
  const res = await post('/v1/batch', {
    context: { channel: 'web' },
    batch: [
      { type: 'track', messageId: 'p-1', userId: 'http-u2', event: 'Viewed' },
      { type: 'track', messageId: 'p-2', event: 'Viewed' },
      { type: 'track', messageId: 'p-3', userId: 'http-u2', event: 'Viewed', timestamp: 'yesterday' },
      { type: 'page', messageId: 'p-4', userId: 'http-u2', name: 'Home' },
    ],
  }, { key: W.partial });
  t.equal(res.status, 200);
  t.match(res.body, { success: true, rejected: [{ index: 1, field: 'userId', reason: /needs userId, anonymousId or context.externalIds/ }, { index: 2, field: 'timestamp', reason: /timestamp/ }] });
  t.equal((res.body['rejected'] as unknown[]).length, 2);
  t.same(await countsOf('http-u2', (c) => c['Viewed'] !== undefined && c['$page'] !== undefined), { Viewed: '1', $page: '1' }, 'the two valid events are processed');
});

void t.test('invalid input is a 400 naming the field', async (t) => {
  const noEvent = await post('/v1/track', { messageId: 'i-1', userId: 'http-u3' }, { key: W.invalid });
  t.equal(noEvent.status, 400);
  t.match(noEvent.body, { error: { code: 'INVALID_ARGUMENT', field: 'event', message: /event: required for track/ } });

  const badTime = await post('/v1/identify', { messageId: 'i-2', userId: 'http-u3', timestamp: 'not a date' }, { key: W.invalid });
  t.match([badTime.status, badTime.body], [400, { error: { field: 'timestamp' } }]);

  const allBad = await post('/v1/batch', { batch: [{ type: 'track', messageId: 'i-3', userId: 'http-u3' }, { type: 'fly', messageId: 'i-4', userId: 'http-u3' }] }, { key: W.invalid });
  t.equal(allBad.status, 400, 'no valid event at all');
  t.match(allBad.body, { error: { code: 'INVALID_ARGUMENT', field: 'batch.0.event' }, rejected: [{ index: 0, field: 'event' }, { index: 1, field: 'type' }] });

  const notJson = await post('/v1/batch', '{"batch": [', { key: W.invalid });
  t.match([notJson.status, notJson.body], [400, { error: { code: 'INVALID_ARGUMENT', field: 'body' } }]);
  const noBatch = await post('/v1/batch', { events: [] }, { key: W.invalid });
  t.match([noBatch.status, noBatch.body], [400, { error: { field: 'batch' } }]);
  const empty = await post('/v1/batch', { batch: [] }, { key: W.invalid });
  t.match([empty.status, empty.body], [400, { error: { field: 'batch', message: /empty/ } }]);
});

void t.test('401 without a known write key, 403 without the events:write scope', async (t) => {
  const event = { messageId: 'a-1', userId: 'http-u4', event: 'X' };
  const none = await post('/v1/track', event);
  t.match([none.status, none.body], [401, { error: { code: 'UNAUTHENTICATED', message: /Basic/ } }]);
  const unknown = await post('/v1/track', event, { key: 'no-such-write-key-000001' });
  t.match([unknown.status, unknown.body], [401, { error: { code: 'UNAUTHENTICATED', message: /unknown write key/ } }]);
  const bearerOnly = await fetch(`http://127.0.0.1:${e2e.pulse.httpPort}/v1/track`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${W.basic}` }, body: JSON.stringify(event),
  });
  t.equal(bearerOnly.status, 401, 'the collector takes the write key as HTTP Basic user only');
  const reader = await post('/v1/track', event, { key: READER });
  t.match([reader.status, reader.body], [403, { error: { code: 'PERMISSION_DENIED', message: /events:write/ } }]);
});

void t.test('413 above 32 KB an event and 500 KB a batch; an oversized event in a batch is refused alone', async (t) => {
  const big = (id: string, bytes: number) => ({ type: 'track', messageId: id, userId: 'http-u5', event: 'Big', properties: { blob: 'x'.repeat(bytes) } });
  const event = await post('/v1/track', big('s-1', 33 * 1024), { key: W.size });
  t.equal(event.status, 413);
  t.match(event.body, { error: { code: 'RESOURCE_EXHAUSTED', field: 'body', message: /32768/ } });

  const batch = await post('/v1/batch', { batch: Array.from({ length: 20 }, (_, i) => big(`s-2-${i}`, 26 * 1024)) }, { key: W.size });
  t.equal(batch.status, 413, 'a batch of 20 events of 26 KB is above 500 KB');
  t.match(batch.body, { error: { code: 'RESOURCE_EXHAUSTED', message: /512000/ } });

  const mixed = await post('/v1/batch', { batch: [big('s-3', 40 * 1024), big('s-4', 1024)] }, { key: W.size });
  t.equal(mixed.status, 200);
  t.match(mixed.body, { success: true, rejected: [{ index: 0, field: 'size', reason: /above the limit of 32768/ }] });
  t.equal((mixed.body['rejected'] as unknown[]).length, 1);
  t.same(await countsOf('http-u5', (c) => c['Big'] !== undefined), { Big: '1' }, 'only the small event is stored');
});

void t.test('gzip bodies are accepted; a gzip bomb is refused at the limit', async (t) => {
  const res = await post('/v1/batch', { batch: [{ type: 'track', messageId: 'g-1', userId: 'http-u6', event: 'Zipped' }] }, { key: W.gzip, gzip: true });
  t.same([res.status, res.body], [200, { success: true }]);
  t.same(await countsOf('http-u6', (c) => c['Zipped'] !== undefined), { Zipped: '1' });

  const bomb = gzipSync(JSON.stringify({ batch: [{ type: 'track', messageId: 'g-2', userId: 'http-u6', event: 'Bomb', properties: { x: 'a'.repeat(10 * 1024 * 1024) } }] }));
  t.ok(bomb.length < 20 * 1024, `10 MB compress to ${bomb.length} bytes`);
  const refused = await fetch(`http://127.0.0.1:${e2e.pulse.httpPort}/v1/batch`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: basic(W.gzip) }, body: bomb,
  });
  t.equal(refused.status, 413, 'decompression stops at 500 KB');
  const corrupt = await fetch(`http://127.0.0.1:${e2e.pulse.httpPort}/v1/track`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: basic(W.gzip) }, body: 'not gzip at all',
  });
  t.match([corrupt.status, await corrupt.json()], [400, { error: { field: 'body', message: /gzip/ } }]);
});

void t.test('429 with Retry-After above the per-key rate limit', async (t) => {
  const send = (i: number) => post('/v1/track', { messageId: `r-${i}`, userId: 'http-u7', event: 'Burst' }, { key: W.rate });
  const answers = await Promise.all(Array.from({ length: RATE_LIMIT * 3 }, (_, i) => send(i)));
  const limited = answers.filter((a) => a.status === 429);
  const ok = answers.filter((a) => a.status === 200);
  t.ok(limited.length >= RATE_LIMIT, `${limited.length} of ${answers.length} answered 429`);
  t.ok(ok.length >= 1 && ok.length <= RATE_LIMIT * 2, `${ok.length} accepted`);
  t.equal(ok.length + limited.length, answers.length, 'every answer is 200 or 429');
  const first = limited[0];
  t.match(first?.body, { error: { code: 'RESOURCE_EXHAUSTED', message: /requests per second/ } });
  const retryAfter = Number(first?.headers.get('retry-after'));
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After: ${retryAfter}`);

  const other = await post('/v1/track', { messageId: 'r-other', userId: 'http-u7', event: 'Other' }, { key: W.dedup });
  t.equal(other.status, 200, 'another key is not limited');
  await new Promise((r) => setTimeout(r, retryAfter * 1000));
  const after = await send(1000);
  t.equal(after.status, 200, 'accepted again after Retry-After');
});

void t.test('the same messageId sent twice, through different paths, is processed once', async (t) => {
  const event = { type: 'track', messageId: 'd-1', userId: 'http-u8', event: 'Purchased', timestamp: '2026-03-02T09:00:00Z' };
  t.equal((await post('/v1/track', event, { key: W.dedup })).status, 200);
  t.equal((await post('/v1/batch', { batch: [event, { ...event, messageId: 'd-2' }] }, { key: W.dedup })).status, 200);
  t.equal((await post('/v1/batch', { batch: [event] }, { key: W.dedup, gzip: true })).status, 200);
  const counts = await countsOf('http-u8', (c) => Number(c['Purchased'] ?? 0) >= 2);
  t.same(counts, { Purchased: '2' }, 'd-1 once and d-2 once');
});

/** A nats-server with JetStream on a free port whose data survives a restart. */
async function startNats(port: number, storeDir: string): Promise<ChildProcess> {
  const child = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], { stdio: 'ignore' });
  await eventually(() => new Promise<true | undefined>((resolve) => {
    const s = netConnect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(undefined));
  }), 10_000, `nats-server on ${port}`);
  return child;
}

function stopNats(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

function httpsPost(port: number, ca: Buffer, path: string, body: unknown, key: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, method: 'POST', ca, headers: { 'content-type': 'application/json', authorization: basic(key) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const noOpenssl = spawnSync('which', ['openssl']).status !== 0;
void t.test('HTTPS with a configured certificate; 503 while NATS is down, nothing stored; back after NATS returns', {
  // X.509 certificates cannot be made with node:crypto alone.
  skip: noOpenssl ? 'openssl is not installed: the test cannot make a certificate' : false,
}, async (t) => {
  const tmp = tempDir('pulse-tls-');
  const natsStore = tempDir('pulse-nats-');
  const ns2 = uniqueNamespace('colltls');
  t.teardown(() => { tmp.remove(); natsStore.remove(); });
  const certFile = join(tmp.path, 'cert.pem');
  const keyFile = join(tmp.path, 'key.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', keyFile, '-out', certFile], { encoding: 'utf8' });
  if (made.status !== 0) t.comment(made.stderr);
  t.equal(made.status, 0, 'openssl made a self-signed certificate for 127.0.0.1');
  const ca = readFileSync(certFile);

  const natsPort = await freePort();
  let nats = await startNats(natsPort, natsStore.path);
  t.teardown(() => stopNats(nats));
  const tlsPulse = await startPulseProcess({
    PULSE_NAMESPACE: ns2, PULSE_DATA_DIR: join(tmp.path, 'data'), PULSE_API_KEYS: JSON.stringify(keys),
    PULSE_NATS_URL: `nats://127.0.0.1:${natsPort}`, PULSE_TLS_CERT: certFile, PULSE_TLS_KEY: keyFile,
  });
  t.teardown(async () => {
    await tlsPulse.stop('SIGKILL');
    // Redis keys live on the shared server; the streams died with the private nats-server.
    await cleanupNamespace(ns2).catch(() => undefined);
  });

  const ok = await httpsPost(tlsPulse.httpPort, ca, '/v1/track', { messageId: 't-1', userId: 'tls-u1', event: 'Before Outage' }, W.basic);
  t.same(ok, { status: 200, body: { success: true } }, 'HTTPS with the test certificate');
  await t.rejects(fetch(`http://127.0.0.1:${tlsPulse.httpPort}/healthz`), 'no plain HTTP on the TLS port');
  t.same(await countsOf('tls-u1', (c) => c['Before Outage'] !== undefined, tlsPulse.grpcPort), { 'Before Outage': '1' });

  await stopNats(nats);
  const down = await httpsPost(tlsPulse.httpPort, ca, '/v1/batch', { batch: [
    { type: 'track', messageId: 't-2', userId: 'tls-u1', event: 'During Outage' },
    { type: 'track', messageId: 't-3', userId: 'tls-u1', event: 'During Outage' },
  ] }, W.basic);
  t.match(down, { status: 503, body: { error: { code: 'UNAVAILABLE' } } }, 'NATS down: 503');

  nats = await startNats(natsPort, natsStore.path);
  const back = await eventually(async () => {
    const r = await httpsPost(tlsPulse.httpPort, ca, '/v1/track', { messageId: 't-4', userId: 'tls-u1', event: 'After Outage' }, W.basic);
    return r.status === 200 ? r : undefined;
  }, 20_000, 'the collector to accept again');
  t.same(back.body, { success: true });
  const counts = await countsOf('tls-u1', (c) => c['After Outage'] !== undefined, tlsPulse.grpcPort);
  t.same(counts, { 'Before Outage': '1', 'After Outage': '1' }, 'nothing of the 503 request was stored');
});
