import t from 'tap';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { parseConnectors, recordMessageId, type ConnectorDefinition } from '../../src/collection/connectors/model.ts';
import { ConnectorRunner } from '../../src/collection/connectors/runner.ts';
import { RedisConnectorStore } from '../../src/collection/connectors/state.redis.ts';
import { natsEventPublisher } from '../../src/collection/publisher.nats.ts';
import type { EventPublisher } from '../../src/collection/publisher.ts';
import { loadConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/infra/log.ts';
import { createMetrics, type Metrics } from '../../src/infra/metrics.ts';
import { connectNats, ensureStreams, streamNames } from '../../src/infra/nats.ts';
import { connectRedis, type RedisClient } from '../../src/infra/redis.ts';
import type { JsonObject } from '../../src/json.ts';
import { startPulse } from '../../src/main.ts';
import { RedisProfileStore } from '../../src/profiles/profile.redis.ts';
import { FakePartner } from '../support/fake-partner.ts';
import { cleanEnv, runCli } from '../support/pulse-process.ts';
import { cleanupNamespace, eventually, NATS_URL, REDIS_URL, tempDir, uniqueNamespace } from '../support/env.ts';

const ns = uniqueNamespace('conn');
const names = streamNames(ns);
const log = createLogger('silent');
let nc: NatsConnection;
let redis: RedisClient;
let partner: FakePartner;
let publisher: EventPublisher;
let store: RedisConnectorStore;

const HASH = 'c'.repeat(64);
const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();
const person = (id: string, minute: number, extra: Record<string, unknown> = {}) => ({ id, updated_at: at(minute), profile: { plan: `plan-${id}` }, hash: HASH, ...extra });

t.before(async () => {
  nc = await connectNats(NATS_URL, 'connectors-test');
  await ensureStreams(nc, ns, 5_000);
  redis = await connectRedis(REDIS_URL, 'connectors-test');
  partner = await FakePartner.start(3);
  // Seven people; u4's ltv does not map and u6's hashed email is not a SHA-256: both are refused.
  partner.records = [
    person('u1', 1), person('u2', 2), person('u3', 3), person('u4', 4, { ltv: 'lots' }),
    person('u5', 5), person('u6', 6, { hash: 'not-a-hash' }), person('u7', 7),
  ];
  publisher = natsEventPublisher(nc, ns, { ackTimeoutMs: 5_000 });
  store = new RedisConnectorStore(redis, ns);
});

t.teardown(async () => {
  await partner.close();
  await redis.quit();
  await nc.close();
  await cleanupNamespace(ns);
});

function connector(overrides: Record<string, unknown>): ConnectorDefinition {
  const r = parseConnectors(JSON.stringify([{
    id: 'crm', tenant: 'acme', schedule: { everySeconds: 3600 },
    request: { url: partner.url('/cursor/users'), query: { fields: 'all' }, timeoutMs: 2_000 },
    auth: { type: 'oauth2_client_credentials', tokenUrl: partner.url('/oauth/token'), clientId: FakePartner.CLIENT_ID, clientSecret: { env: 'CRM_SECRET' }, scope: 'users:read' },
    pagination: { type: 'cursor', cursorPath: 'meta.next_cursor', param: 'cursor' },
    recordsPath: 'data',
    incremental: { param: 'updated_since', field: 'updated_at' },
    recordId: 'id',
    mapping: {
      type: 'identify', timestamp: 'updated_at',
      externalIds: [{ type: 'partner:crm', column: 'id' }, { type: 'email_sha256', column: 'hash' }],
      traits: { plan: 'profile.plan', ltv: { column: 'ltv', as: 'number' } },
    },
    retry: { maxAttempts: 4, baseDelayMs: 20, maxDelayMs: 200 },
    ...overrides,
  }]), { CRM_SECRET: FakePartner.CLIENT_SECRET });
  if (!r.ok) throw new Error(r.problems.join('; '));
  const [c] = r.connectors;
  if (c === undefined) throw new Error('no connector');
  return c;
}

function runner(defs: ConnectorDefinition[], metrics: Metrics = createMetrics()): ConnectorRunner {
  return new ConnectorRunner(defs, { publisher, store, log, metrics });
}

/** Every event JetStream stored for a tenant, in order. */
async function storedEvents(tenant: string): Promise<JsonObject[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(names.events);
  const events: JsonObject[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(names.events, { seq });
    if (m === null || m.subject !== names.eventsSubject(tenant)) continue;
    events.push(...m.json<{ batch: JsonObject[] }>().batch);
  }
  return events;
}

const ids = (events: JsonObject[]) => events.map((e) => (e['context'] as { externalIds: { id: string }[] }).externalIds[0]?.id);

void t.test('cursor pages behind OAuth2, through 500s, a 429 with Retry-After and a revoked token', async (t) => {
  const path = '/cursor/users';
  partner.faults.push({ path, status: 500, times: 2 });
  partner.faults.push({ path, status: 429, times: 1, headers: { 'retry-after': '1' }, when: (q) => q.get('cursor') === 'c3' });
  let revoked = false;
  partner.afterPage = (p, q) => {
    if (p === path && q.get('cursor') === null && !revoked) {
      revoked = true;
      partner.revokeTokens();
    }
  };
  const metrics = createMetrics();
  const result = await runner([connector({})], metrics).runNow('crm');
  partner.afterPage = undefined;
  t.match(result, { connector: 'crm', outcome: 'success', accepted: 5, rejected: 2, pages: 3, retries: 3, error: undefined });

  const calls = partner.seen(path);
  t.same(calls.map((c) => `${c.status}:${c.query.get('cursor') ?? '-'}`), ['500:-', '500:-', '200:-', '401:c3', '429:c3', '200:c3', '200:c6'],
    'two 500s retried, the 401 answered with a new token, the 429 waited out, then the rest');
  t.ok(calls.every((c) => c.query.get('fields') === 'all' && c.query.get('updated_since') === null), 'the fixed query goes along; no watermark yet');
  t.equal(partner.tokenCalls, 2, 'one token, cached across pages, then one more after the 401');
  const [r429, after429] = [calls[4], calls[5]];
  t.ok(r429 !== undefined && after429 !== undefined && after429.at - r429.at >= 950, `Retry-After: 1 honoured (waited ${(after429?.at ?? 0) - (r429?.at ?? 0)} ms)`);

  const events = await storedEvents('acme');
  t.same(ids(events), ['u1', 'u2', 'u3', 'u5', 'u7'], 'the five valid records landed in JetStream, in order');
  t.same(events[0], {
    type: 'identify', messageId: recordMessageId('crm', 'u1', at(1)), timestamp: at(1),
    traits: { plan: 'plan-u1' }, properties: {},
    context: { externalIds: [{ type: 'partner:crm', id: 'u1' }, { type: 'email_sha256', id: HASH }], channel: 'partner', connector: 'crm' },
  }, 'a normalized identify event on the partner channel with a deterministic messageId');

  const [status] = await runner([connector({})]).status();
  t.match(status?.stored, {
    state: { watermark: at(7) },
    status: { running: false, lastOutcome: 'success', accepted: 5, rejected: 2, pages: 3, retries: 3, runs: 1, totalAccepted: 5, totalRejected: 2 },
  });
  t.equal(status?.stored.state.run, undefined, 'no run in progress');
  t.match(status?.stored.status.recentRejections, [{ recordId: 'u4', reason: /^traits\.ltv: / }, { recordId: 'u6', reason: /^context\.externalIds\.1: email_sha256 must be 64 lowercase hex/ }], 'rejections by record id and reason');
  t.ok((status?.stored.status.lastSuccessAt ?? 0) > 0);

  const rows = await metrics.registry.getSingleMetricAsString('pulse_connector_rows_total');
  t.match(rows, /pulse_connector_rows_total\{connector="crm",result="accepted"\} 5/);
  t.match(rows, /pulse_connector_rows_total\{connector="crm",result="rejected"\} 2/);
  t.match(await metrics.registry.getSingleMetricAsString('pulse_connector_runs_total'), /pulse_connector_runs_total\{connector="crm",outcome="success"\} 1/);
  t.match(await metrics.registry.getSingleMetricAsString('pulse_connector_last_success_timestamp_seconds'), /\{connector="crm"\} \d{10}/);
});

void t.test('a new runner (a restarted process) continues from the watermark without duplicates', async (t) => {
  partner.records.push(person('u8', 8), person('u9', 9));
  const u2 = partner.records.find((r) => r['id'] === 'u2');
  if (u2 !== undefined) Object.assign(u2, { updated_at: at(10), profile: { plan: 'upgraded' } });
  const before = partner.seen('/cursor/users').length;
  const result = await runner([connector({})]).runNow('crm');
  t.match(result, { outcome: 'success', accepted: 3, rejected: 0, pages: 1 });
  const calls = partner.seen('/cursor/users').slice(before);
  t.same(calls.map((c) => c.query.get('updated_since')), [at(7)], 'asked only for records changed since the stored watermark');

  const events = await storedEvents('acme');
  t.same(ids(events), ['u1', 'u2', 'u3', 'u5', 'u7', 'u8', 'u9', 'u2'], 'the new people and the changed u2, nothing else');
  const messageIds = events.map((e) => e['messageId']);
  t.equal(new Set(messageIds).size, messageIds.length, 'no event twice: the changed record has a new messageId');
  t.match(events.at(-1), { traits: { plan: 'upgraded' }, timestamp: at(10) });
  const [status] = await runner([connector({})]).status();
  t.match(status?.stored, { state: { watermark: at(10) }, status: { runs: 2, totalAccepted: 8, totalRejected: 2, accepted: 3 } });
});

void t.test('a failed run keeps the cursor of acknowledged pages; the next run resumes there', async (t) => {
  const def = connector({ id: 'crm-resume', tenant: 'globex', retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 50 } });
  partner.faults.push({ path: '/cursor/users', status: 502, times: 3, when: (q) => q.get('cursor') === 'c6' });
  const failed = await runner([def]).runNow('crm-resume');
  t.match(failed, { outcome: 'failed', pages: 2, accepted: 4, error: `GET 127.0.0.1:${partner.port}/cursor/users: HTTP 502 after 3 attempts` });
  const stored = await store.read('globex', 'crm-resume');
  t.match(stored.state, { run: { position: 'c6', pages: 2, max: at(7) } }, 'the cursor after the last acknowledged page (u1 u3 u4, u5 u6 u7)');
  t.equal(stored.state.watermark, undefined, 'the watermark moves only when a run completes');
  t.match(stored.status, { lastOutcome: 'failed', error: /HTTP 502 after 3 attempts/, running: false });

  const before = partner.seen('/cursor/users').length;
  const resumed = await runner([def]).runNow('crm-resume');
  t.match(resumed, { outcome: 'success', pages: 1, accepted: 3 });
  t.same(partner.seen('/cursor/users').slice(before).map((c) => c.query.get('cursor')), ['c6'], 'the restart asked for the page that had failed, not the first one');
  const events = await storedEvents('globex');
  t.same(ids(events).sort(), ['u1', 'u2', 'u3', 'u5', 'u7', 'u8', 'u9'], 'every valid person once');
  t.equal(new Set(events.map((e) => e['messageId'])).size, events.length, 'no duplicates');
  t.match((await store.read('globex', 'crm-resume')).state, { watermark: at(10) });
});

void t.test('page numbers behind HTTP Basic; a 503 with an HTTP-date Retry-After', async (t) => {
  partner.faults.push({ path: '/page/users', status: 503, times: 1, headers: () => ({ 'retry-after': new Date(Date.now() + 2_500).toUTCString() }) });
  const def = connector({
    id: 'shop', tenant: 'initech', request: { url: partner.url('/page/users') },
    auth: { type: 'basic', username: FakePartner.BASIC.username, password: FakePartner.BASIC.password },
    pagination: { type: 'page', param: 'page', start: 1, sizeParam: 'per_page', size: 4 }, recordsPath: 'items', incremental: undefined,
  });
  const result = await runner([def]).runNow('shop');
  t.match(result, { outcome: 'success', accepted: 7, rejected: 2, pages: 4, retries: 1 });
  const calls = partner.seen('/page/users');
  t.same(calls.map((c) => `${c.status}:${c.query.get('page')}:${c.query.get('per_page')}`), ['503:1:4', '200:1:4', '200:2:4', '200:3:4', '200:4:4'], 'until the empty page');
  const [first, second] = calls;
  t.ok(first !== undefined && second !== undefined && second.at - first.at >= 1_000, `the HTTP-date was waited for (${(second?.at ?? 0) - (first?.at ?? 0)} ms)`);
  t.equal((await storedEvents('initech')).length, 7);
});

void t.test('offsets behind a static bearer token; a refused token fails the run at once', async (t) => {
  const base = {
    tenant: 'umbrella', request: { url: partner.url('/offset/users') }, auth: { type: 'bearer', token: FakePartner.STATIC_TOKEN },
    pagination: { type: 'offset', limit: 4 }, recordsPath: '', incremental: undefined,
  };
  const ok = await runner([connector({ ...base, id: 'feed' })]).runNow('feed');
  t.match(ok, { outcome: 'success', accepted: 7, pages: 3 });
  t.same(partner.seen('/offset/users').map((c) => `${c.query.get('offset')}/${c.query.get('limit')}`), ['0/4', '4/4', '8/4'], 'until a page shorter than the limit');

  const before = partner.seen('/offset/users').length;
  const bad = await runner([connector({ ...base, id: 'feed-bad', auth: { type: 'bearer', token: 'wrong' } })]).runNow('feed-bad');
  t.match(bad, { outcome: 'failed', pages: 0, retries: 0, error: /HTTP 401 \(check the connector's credentials\)/ });
  t.equal(partner.seen('/offset/users').length - before, 1, 'a 401 is not retried');
  await t.rejects(runner([]).runNow('nope'), { code: 'NOT_FOUND' });

  const closed = await FakePartner.start();
  const deadUrl = closed.url('/offset/users');
  await closed.close();
  const down = await runner([connector({ ...base, id: 'feed-down', request: { url: deadUrl }, retry: { maxAttempts: 3, baseDelayMs: 10 } })]).runNow('feed-down');
  t.match(down, { outcome: 'failed', retries: 2, error: /: network error \(ECONNREFUSED\) after 3 attempts$/ }, 'network errors are retried too, then the status says why');
});

void t.test('one run per connector at a time, in this process and across processes', async (t) => {
  const def = connector({
    id: 'slow', tenant: 'umbrella', request: { url: partner.url('/offset/users') }, auth: { type: 'bearer', token: FakePartner.STATIC_TOKEN },
    pagination: { type: 'offset', limit: 100 }, recordsPath: '', incremental: undefined,
  });
  partner.faults.push({ path: '/offset/users', status: 429, times: 1, headers: { 'retry-after': '1' } });
  const one = runner([def]);
  const first = one.runNow('slow');
  await eventually(async () => ((await store.read('umbrella', 'slow')).status.running ? true : undefined), 5_000, 'the first run to start');
  t.match(await one.runNow('slow'), { outcome: 'busy' }, 'the same runner does not start it twice');
  t.match(await runner([def]).runNow('slow'), { outcome: 'busy' }, 'another process is kept out by the Redis lease');
  t.match(await first, { outcome: 'success', accepted: 7 });
});

void t.test('the scheduler runs connectors on their interval and stops cleanly', async (t) => {
  const def = connector({
    id: 'ticker', tenant: 'hooli', schedule: { everySeconds: 1 }, request: { url: partner.url('/offset/users') },
    auth: { type: 'bearer', token: FakePartner.STATIC_TOKEN }, pagination: { type: 'offset', limit: 100 }, recordsPath: '', incremental: undefined,
  });
  const scheduler = runner([def]);
  scheduler.start();
  await eventually(async () => ((await store.read('hooli', 'ticker')).status.runs >= 2 ? true : undefined), 6_000, 'two scheduled runs');
  await scheduler.stop();
  const stored = await store.read('hooli', 'ticker');
  t.ok(stored.nextRunAt !== undefined && stored.nextRunAt >= (stored.status.lastRunStartedAt ?? 0), 'the next run time is kept for the status');
  t.equal(stored.status.running, false);
  const count = partner.seen('/offset/users').length;
  await new Promise((r) => setTimeout(r, 1_500));
  t.equal(partner.seen('/offset/users').length, count, 'nothing runs after stop()');
  t.ok(stored.status.totalAccepted >= 14, 'each run read and published the whole listing again');
  const events = await storedEvents('hooli');
  t.same(ids(events), ['u1', 'u3', 'u4', 'u5', 'u6', 'u7', 'u8', 'u9', 'u2'].filter((id) => id !== 'u4' && id !== 'u6'),
    'stored once: the same events make the same JetStream message id within the duplicate window (and the processor de-duplicates by messageId beyond it)');
});

void t.test('wired into the processor role: PULSE_CONNECTORS events become profiles', async (t) => {
  const dir = tempDir();
  t.teardown(() => dir.remove());
  const defs = [{
    id: 'crm-live', tenant: 'wayne', schedule: { everySeconds: 3600 }, request: { url: partner.url('/offset/users') },
    auth: { type: 'bearer', token: { env: 'LIVE_TOKEN' } }, pagination: { type: 'offset', limit: 5 }, recordId: 'id',
    mapping: { type: 'identify', timestamp: 'updated_at', externalIds: [{ type: 'partner:crm', column: 'id' }], traits: { plan: 'profile.plan' } },
  }];
  const config = loadConfig({
    PULSE_NAMESPACE: ns, PULSE_DATA_DIR: dir.path, PULSE_HTTP_PORT: '0', PULSE_GRPC_PORT: '0', PULSE_CONNECTORS: JSON.stringify(defs), LIVE_TOKEN: FakePartner.STATIC_TOKEN,
  });
  const pulse = await startPulse(config, [], 'processor', log);
  try {
    const profiles = new RedisProfileStore(redis, ns, 3600);
    const profile = await eventually(async () => {
      const pid = await profiles.resolve('wayne', [{ type: 'partner:crm', id: 'u9' }]);
      return pid === undefined ? undefined : profiles.get('wayne', pid);
    }, 20_000, 'the profile of u9');
    t.match(profile?.traits, { plan: 'plan-u9' });
    t.match(profile?.identifiers, [{ type: 'partner:crm', id: 'u9' }]);
    const stored = await store.read('wayne', 'crm-live');
    t.match(stored.status, { lastOutcome: 'success', accepted: 9 });
  } finally {
    await pulse.stop();
  }
});

void t.test('the CLI runs a connector now and shows the status of each', async (t) => {
  const defs = [
    {
      id: 'feed-cli', tenant: 'stark', schedule: { cron: '0 3 * * *', timezone: 'UTC' }, request: { url: partner.url('/offset/users') },
      auth: { type: 'bearer', token: { env: 'FEED_TOKEN' } }, pagination: { type: 'offset', limit: 5 }, recordId: 'id',
      mapping: { type: 'identify', externalIds: [{ type: 'partner:crm', column: 'id' }], traits: { ltv: { column: 'ltv', as: 'number' } } },
    },
    { id: 'never', tenant: 'stark', schedule: { everySeconds: 60 }, request: { url: partner.url('/offset/users') }, recordId: 'id', mapping: { type: 'identify', userId: 'id' } },
  ];
  const env = cleanEnv({ PULSE_NAMESPACE: ns, PULSE_NATS_URL: NATS_URL, PULSE_REDIS_URL: REDIS_URL, PULSE_CONNECTORS: JSON.stringify(defs), FEED_TOKEN: FakePartner.STATIC_TOKEN });
  const run = await runCli(['connectors', 'run', 'feed-cli'], env);
  t.equal(run.code, 0, run.stderr);
  t.equal(run.stdout.trim(), 'feed-cli: success: 8 accepted, 1 rejected, 2 pages, 0 retries');
  const unknown = await runCli(['connectors', 'run', 'nope'], env);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /no connector "nope" in PULSE_CONNECTORS \(known: feed-cli, never\)/);

  const status = await runCli(['connectors', 'status'], env);
  t.equal(status.code, 0, status.stderr);
  const lines = status.stdout.split('\n');
  t.match(lines[0], /^connector\s+\| tenant\s+\| schedule\s+\| state\s+\| last_run\s+\| outcome/);
  t.match(lines.find((l) => l.startsWith('feed-cli')), /\| stark\s+\| 0 3 \* \* \*\s+\| idle\s+\| 20\d\d-.*\| success\s+\| 8\s+\| 1\s+\| 2\s+\| 0/);
  t.match(lines.find((l) => l.startsWith('never')), /never ran/);
  const detail = await runCli(['connectors', 'status', '--id', 'feed-cli'], env);
  const [shown] = JSON.parse(detail.stdout) as { id: string; status: { recentRejections: { recordId: string; reason: string }[] } }[];
  t.match(shown, { id: 'feed-cli', status: { recentRejections: [{ recordId: 'u4', reason: /traits\.ltv/ }] } }, 'details name the rejected record by id');
});
