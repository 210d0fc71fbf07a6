import t from 'tap';
import { Analytics as SegmentAnalytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { eventually } from '../support/env.ts';
import { startE2e } from '../support/e2e.ts';
import { bearer } from '../support/pulse-process.ts';

const WRITE = 'sdk-write-key-000000000001';
const READER = 'sdk-reader-key-00000000001';
const ADMIN = 'sdk-admin-key-000000000001';
const e2e = startE2e(t, {
  prefix: 'sdk',
  keys: [
    { key: WRITE, tenant: 'acme', scopes: ['events:write'] },
    { key: READER, tenant: 'acme', scopes: ['profiles:read'] },
    { key: ADMIN, tenant: 'acme', scopes: ['*'] },
  ],
});

/** The acme profile of `userId` once it has counted `expected` events. */
async function profileOf(userId: string, expected: number) {
  return eventually(async () => {
    const p = await e2e.clients.getProfile({ identifiers: [{ type: 'user_id', id: userId }] }, bearer(READER));
    const n = Object.values(p.eventCounts).reduce((sum, v) => sum + Number(v), 0);
    return n >= expected ? p : undefined;
  }, 20_000, `${expected} events on the profile of ${userId}`);
}

/** Rows of `pulse sql` for one user: `type | event | library` lines. */
async function warehouseRows(userId: string): Promise<string> {
  const sql = `SELECT type, event, JSONExtractString(context, 'library', 'name') AS library FROM ${e2e.ns}.events FINAL
    WHERE tenant = 'acme' AND user_id = '${userId}' ORDER BY type, event`;
  return eventually(async () => {
    const r = await e2e.cli(['sql', sql]);
    if (r.code !== 0) throw new Error(r.stderr);
    return /\(3 rows\)/.test(r.stdout) ? r.stdout : undefined;
  }, 20_000, `three warehouse rows of ${userId}`);
}

void t.test('@segment/analytics-node sends identify, track and page unchanged', async (t) => {
  const analytics = new SegmentAnalytics({ writeKey: WRITE, host: `http://127.0.0.1:${e2e.pulse.httpPort}`, flushAt: 10, maxRetries: 0 });
  const requests: { url: string; authorization: string | undefined }[] = [];
  const statuses: number[] = [];
  analytics.on('http_request', (r) => requests.push({ url: r.url, authorization: r.headers['Authorization'] }));
  analytics.on('http_response', (r) => statuses.push(r.status));
  const failures: unknown[] = [];
  analytics.on('error', (err) => failures.push(err));

  analytics.identify({ userId: 'seg-u1', anonymousId: 'seg-a1', traits: { plan: 'pro', name: 'Ada' } });
  analytics.track({ userId: 'seg-u1', event: 'Order Completed', properties: { revenue: 42.5, currency: 'EUR' } });
  analytics.page({ userId: 'seg-u1', name: 'Pricing', properties: { path: '/pricing' } });
  await analytics.closeAndFlush({ timeout: 10_000 });

  t.same(failures, [], 'no delivery failure');
  t.ok(requests.length >= 1, `${requests.length} request(s)`);
  for (const r of requests) {
    t.equal(new URL(r.url).pathname, '/v1/batch', 'the SDK posts batches to /v1/batch');
    t.equal(r.authorization, `Basic ${Buffer.from(`${WRITE}:`).toString('base64')}`, 'with the write key as Basic user');
  }
  t.ok(statuses.length >= 1 && statuses.every((s) => s === 200), `answered ${statuses.join(', ')}`);

  const profile = await profileOf('seg-u1', 3);
  t.same(profile.eventCounts, { $identify: '1', 'Order Completed': '1', $page: '1' });
  t.same(profile.identifiers.map((i) => `${i.type}:${i.id}`).sort(), ['anonymous_id:seg-a1', 'user_id:seg-u1']);
  t.same(profile.traits?.fields['plan'], { stringValue: 'pro', kind: 'stringValue' });

  const rows = await warehouseRows('seg-u1');
  t.match(rows, /identify\s+\|\s+\|\s+@segment\/analytics-node/);
  t.match(rows, /page\s+\|\s+Pricing\s+\|\s+@segment\/analytics-node/);
  t.match(rows, /track\s+\|\s+Order Completed\s+\|\s+@segment\/analytics-node/);
});

void t.test('@rudderstack/rudder-sdk-node sends identify, track and page unchanged (gzip bodies)', async (t) => {
  const errors: unknown[] = [];
  const client = new RudderAnalytics(WRITE, {
    dataPlaneUrl: `http://127.0.0.1:${e2e.pulse.httpPort}`, flushAt: 10, flushInterval: 200, retryCount: 0, logLevel: 'error',
    errorHandler: (err: unknown) => { errors.push(err); },
  });
  const requests: { path: string | undefined; encoding: unknown; auth: unknown }[] = [];
  // The SDK's own axios instance: record what it sends without changing it.
  (client as unknown as { axiosInstance: { interceptors: { request: { use(f: (c: Record<string, unknown>) => unknown): void } } } })
    .axiosInstance.interceptors.request.use((config) => {
      const headers = config['headers'] as { get?(n: string): unknown } | undefined;
      requests.push({ path: typeof config['url'] === 'string' ? new URL(config['url']).pathname : undefined, encoding: headers?.get?.('Content-Encoding'), auth: config['auth'] });
      return config;
    });

  client.identify({ userId: 'rud-u1', anonymousId: 'rud-a1', traits: { plan: 'team' } });
  client.track({ userId: 'rud-u1', event: 'Trial Started', properties: { days: 14 } });
  client.page({ userId: 'rud-u1', name: 'Docs', properties: { path: '/docs' } });
  await client.flush();

  t.same(errors, [], 'no delivery error');
  t.ok(requests.length >= 1, `${requests.length} request(s)`);
  for (const r of requests) {
    t.equal(r.path, '/v1/batch', 'the SDK posts batches to /v1/batch');
    t.equal(r.encoding, 'gzip', 'gzip-compressed');
    t.same(r.auth, { username: WRITE }, 'with the write key as Basic user');
  }

  const profile = await profileOf('rud-u1', 3);
  t.same(profile.eventCounts, { $identify: '1', 'Trial Started': '1', $page: '1' });
  t.same(profile.traits?.fields['plan'], { stringValue: 'team', kind: 'stringValue' });

  const rows = await warehouseRows('rud-u1');
  t.match(rows, /identify\s+\|\s+\|\s+analytics-node/);
  t.match(rows, /page\s+\|\s+Docs\s+\|\s+analytics-node/);
  t.match(rows, /track\s+\|\s+Trial Started\s+\|\s+analytics-node/);
});
