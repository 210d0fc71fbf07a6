import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import type { NatsConnection } from '@nats-io/transport-node';
import { parsePushPartners, type PushPartner, type PushUpdate } from '../../src/activation/audience-push.ts';
import { startAudiencePush, type AudiencePush } from '../../src/activation/audience-push.nats.ts';
import { RedisIdSync } from '../../src/activation/id-sync.redis.ts';
import { userSync } from '../../src/activation/user-sync.http.ts';
import { KeyRing } from '../../src/auth/keys.ts';
import type { PulseEvent } from '../../src/collection/event.ts';
import { startHttpServer } from '../../src/infra/http-server.ts';
import { createLogger } from '../../src/infra/log.ts';
import { createMetrics } from '../../src/infra/metrics.ts';
import { connectNats, ensureStreams } from '../../src/infra/nats.ts';
import { connectRedis, type RedisClient } from '../../src/infra/redis.ts';
import { tenantKeys } from '../../src/profiles/keys.ts';
import { RedisProfileStore } from '../../src/profiles/profile.redis.ts';
import { natsSegmentChanges } from '../../src/segments/changes.nats.ts';
import { cleanupNamespace, eventually, NATS_URL, REDIS_URL, uniqueNamespace } from '../support/env.ts';
import { OTHER_VENDOR, PULSE_VENDOR, tcString } from '../support/tcf.ts';

const ns = uniqueNamespace('push');
const WRITE_KEY = 'push-write-key-000000001';
const ADMIN = 'push-admin-key-000000001';
let nc: NatsConnection;
let redis: RedisClient;
let partnerServer: Server;
let http: { close(): Promise<void>; port: number };
let push: AudiencePush | undefined;
const received: { authorization: string | undefined; body: { partner: string; updates: PushUpdate[] } }[] = [];
let failNext = 0;
let partners: PushPartner[];

t.before(async () => {
  nc = await connectNats(NATS_URL, 'push-test');
  await ensureStreams(nc, ns, 30_000);
  redis = await connectRedis(REDIS_URL, 'push-test');
  partnerServer = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => { body += d.toString(); });
    req.on('end', () => {
      if (failNext > 0) {
        failNext--;
        res.writeHead(503).end();
        return;
      }
      received.push({ authorization: req.headers.authorization, body: JSON.parse(body) as (typeof received)[number]['body'] });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => partnerServer.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(partnerServer.address() as AddressInfo).port}/audiences`;
  const parsed = parsePushPartners(JSON.stringify([
    { tenant: 'acme', partner: 'dsp-one', url, authorization: 'Bearer partner-secret', iabVendorId: PULSE_VENDOR, segments: ['shoppers', 'travellers'], batchSize: 50 },
  ]));
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  partners = parsed.partners;

  // Three people: A (synced), B (never synced), C (synced, but consent refuses the partner).
  const profiles = new RedisProfileStore(redis, ns, 3600);
  const ev = (messageId: string, anon: string, traits: PulseEvent['traits'] = {}): PulseEvent => ({
    type: 'identify', messageId, timestamp: Date.now() - 60_000, userId: undefined, anonymousId: anon, event: '',
    properties: {}, traits, context: {}, identifiers: [{ type: 'anonymous_id', id: anon }], extra: {},
  });
  await profiles.applyEvents('acme', [
    ev('m-a', 'anon-a'), ev('m-b', 'anon-b'),
    ev('m-c', 'anon-c', { $consent: { tcString: tcString({ purposes: [1, 3, 4], vendors: [OTHER_VENDOR] }), gdprApplies: true } }),
  ]);
  const keys = new KeyRing([{ key: WRITE_KEY, tenant: 'acme', scopes: ['events:write'] }, { key: ADMIN, tenant: 'acme', scopes: ['admin'] }]);
  const sync = new RedisIdSync(redis, ns);
  http = await startHttpServer('127.0.0.1', 0, {
    keys, metrics: createMetrics(), log: createLogger('silent'), checks: [], warehouse: undefined, plugins: [userSync({ keys, partners, sync })],
  });
  push = await startAudiencePush(nc, ns, partners, sync, createLogger('silent'));
});

t.teardown(async () => {
  await push?.stop();
  await http.close();
  await new Promise((r) => partnerServer.close(r));
  await redis.quit();
  await nc.close();
  await cleanupNamespace(ns);
});

const get = async (path: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`http://127.0.0.1:${http.port}${path}`, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

void t.test('the user-sync endpoint fills the ID-sync table, respecting consent', async (t) => {
  const granted = tcString({ purposes: [1, 3, 4], vendors: [PULSE_VENDOR] });
  t.same(await get(`/v1/sync?writeKey=${WRITE_KEY}&partner=dsp-one&uid=P-A&gdpr=1&gdpr_consent=${granted}`, { cookie: `ajs_anonymous_id=${encodeURIComponent('"anon-a"')}` }),
    { status: 200, body: { synced: true } }, 'from the analytics.js cookie');
  t.same(await get(`/v1/sync?writeKey=${WRITE_KEY}&partner=dsp-one&uid=P-C&anonymousId=anon-c`), { status: 200, body: { synced: true } }, 'no GDPR signal');
  const refused = await get(`/v1/sync?writeKey=${WRITE_KEY}&partner=dsp-one&uid=P-B&anonymousId=anon-b&gdpr=1&gdpr_consent=${tcString({ purposes: [1], vendors: [PULSE_VENDOR] })}`);
  t.match(refused, { status: 200, body: { synced: false, reason: /purpose 3/ } }, 'no consent for purpose 3: not stored');
  t.match(await get(`/v1/sync?writeKey=${WRITE_KEY}&partner=nobody&uid=X&anonymousId=anon-b`), { status: 400, body: { error: { field: 'partner' } } });
  t.match(await get(`/v1/sync?writeKey=${WRITE_KEY}&partner=dsp-one&uid=X`), { status: 400, body: { error: { field: 'anonymousId' } } });
  t.match(await get('/v1/sync?writeKey=wrong-key-0000000000&partner=dsp-one&uid=X&anonymousId=a'), { status: 401 });
});

void t.test('segment changes reach the partner in its user ids, in order, after retries; others are skipped', async (t) => {
  const pid = async (anon: string) => (await redis.get(tenantKeys(ns, 'acme').identifier({ type: 'anonymous_id', id: anon }))) ?? '';
  const [a, b, c] = [await pid('anon-a'), await pid('anon-b'), await pid('anon-c')];
  failNext = 2;
  await natsSegmentChanges(nc, ns)('acme', [
    { kind: 'enter', segmentId: 'shoppers', profileId: a, version: 1 },
    { kind: 'enter', segmentId: 'shoppers', profileId: b, version: 1 },
    { kind: 'enter', segmentId: 'shoppers', profileId: c, version: 1 },
    { kind: 'enter', segmentId: 'internal-only', profileId: a, version: 2 },
    { kind: 'exit', segmentId: 'shoppers', profileId: a, version: 3 },
  ]);
  const updates = await eventually(async () => {
    const all = received.flatMap((r) => r.body.updates);
    return all.length >= 2 ? all : undefined;
  }, 20_000, 'the partner to receive the upload');
  t.same(updates.map((u) => [u.uid, u.segment, u.action]), [['P-A', 'shoppers', 'add'], ['P-A', 'shoppers', 'remove']], 'A only, enter before exit');
  t.equal(received[0]?.authorization, 'Bearer partner-secret');
  t.equal(received[0]?.body.partner, 'dsp-one');

  const status = await eventually(async () => {
    const r = await get('/v1/push/status', { authorization: `Bearer ${ADMIN}` });
    const s = (r.body['partners'] as Record<string, Record<string, number>>)['dsp-one'];
    return s !== undefined && s['batches'] !== undefined ? s : undefined;
  }, 5000, 'the delivery status');
  t.match(status, { failures: 2, consecutive_failures: 0, updates: 2, skipped_no_sync: 1, skipped_no_consent: 1, skipped_not_shared: 1 });
  t.ok(status['last_success_at']);
  t.match(await get('/v1/push/status', { authorization: `Bearer ${WRITE_KEY}` }), { status: 403 });
});
