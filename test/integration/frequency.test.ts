import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { RedisFrequencyStore } from '../../src/activation/frequency.redis.ts';
import { OutcomeWriter } from '../../src/activation/outcomes.clickhouse.ts';
import { frequencyHandlers, outcomeHandlers, type ActivationDeps } from '../../src/activation/service.ts';
import { KeyRing } from '../../src/auth/keys.ts';
import type { PulseEvent } from '../../src/collection/event.ts';
import type { CheckCapsRequest } from '../../src/gen/pulse/v1/CheckCapsRequest.ts';
import type { CheckCapsResponse__Output } from '../../src/gen/pulse/v1/CheckCapsResponse.ts';
import type { FrequencyCap } from '../../src/gen/pulse/v1/FrequencyCap.ts';
import type { Outcome } from '../../src/gen/pulse/v1/Outcome.ts';
import type { ReportOutcomesResponse__Output } from '../../src/gen/pulse/v1/ReportOutcomesResponse.ts';
import { EmbeddedWarehouse } from '../../src/infra/clickhouse-embedded.ts';
import { startGrpcServer, type GrpcServer } from '../../src/infra/grpc-server.ts';
import { createLogger } from '../../src/infra/log.ts';
import { createMetrics } from '../../src/infra/metrics.ts';
import { loadPulseGrpc } from '../../src/infra/proto.ts';
import { connectRedis, type RedisClient } from '../../src/infra/redis.ts';
import { tenantKeys } from '../../src/profiles/keys.ts';
import { RedisProfileStore } from '../../src/profiles/profile.redis.ts';
import { schemaStatements } from '../../src/warehouse/schema.ts';
import { cleanupNamespace, REDIS_URL, tempDir, uniqueNamespace } from '../support/env.ts';

const ns = uniqueNamespace('fc');
const dir = tempDir();
const ADMIN = 'frequency-admin-key-000001';
const BIDDER = 'frequency-bidder-key-00001';
const OTHER = 'frequency-other-tenant-0001';
const T0 = Date.parse('2026-11-20T12:00:00.000Z');
const HOUR = 3_600_000;
let clock = T0;
let redis: RedisClient;
let warehouse: EmbeddedWarehouse;
let server: GrpcServer;
let outcomes: grpc.Client;
let frequency: grpc.Client;
let profiles: RedisProfileStore;

t.before(async () => {
  redis = await connectRedis(REDIS_URL, 'frequency-test');
  warehouse = new EmbeddedWarehouse(dir.path);
  for (const ddl of schemaStatements(ns)) await warehouse.exec(ddl);
  profiles = new RedisProfileStore(redis, ns, 3600);
  // One person on two devices: a phone (gaid) and a browser (cookie), linked by the login.
  await profiles.applyEvents('acme', [
    event('m-1', [{ type: 'user_id', id: 'u-1' }, { type: 'gaid', id: 'phone-1' }]),
    event('m-2', [{ type: 'user_id', id: 'u-1' }, { type: 'cookie', id: 'browser-1' }]),
  ]);
  const deps: ActivationDeps = { profiles, frequency: new RedisFrequencyStore(redis, ns), outcomes: new OutcomeWriter(warehouse, ns), now: () => clock };
  const ctx = {
    keys: new KeyRing([
      { key: ADMIN, tenant: 'acme', scopes: ['admin', 'outcomes:write', 'targeting:read'] },
      { key: BIDDER, tenant: 'acme', scopes: ['targeting:read'] },
      { key: OTHER, tenant: 'globex', scopes: ['*'] },
    ]),
    metrics: createMetrics(), log: createLogger('silent'),
  };
  const pkg = loadPulseGrpc();
  server = await startGrpcServer('127.0.0.1', 0, [
    { name: 'pulse.v1.OutcomeService', definition: pkg.pulse.v1.OutcomeService.service, handlers: outcomeHandlers(ctx, deps) },
    { name: 'pulse.v1.FrequencyService', definition: pkg.pulse.v1.FrequencyService.service, handlers: frequencyHandlers(ctx, deps) },
  ]);
  outcomes = new pkg.pulse.v1.OutcomeService(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  frequency = new pkg.pulse.v1.FrequencyService(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
});

t.teardown(async () => {
  outcomes.close();
  frequency.close();
  await server.stop(1000);
  await redis.quit();
  await warehouse.close();
  await cleanupNamespace(ns);
  dir.remove();
});

function call<Res>(client: grpc.Client, method: string, req: unknown, key: string): Promise<Res> {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${key}`);
  const fn = (client as unknown as Record<string, (r: unknown, m: grpc.Metadata, cb: (e: grpc.ServiceError | null, r: Res) => void) => void>)[method];
  return new Promise((resolve, reject) => fn?.call(client, req, md, (e, r) => (e ? reject(e) : resolve(r))));
}

const setCap = (cap: FrequencyCap, key = ADMIN) => call<FrequencyCap>(frequency, 'SetCap', cap, key);
const check = (req: CheckCapsRequest, key = BIDDER) => call<CheckCapsResponse__Output>(frequency, 'CheckCaps', req, key);
const report = (list: Outcome[], key = ADMIN) => call<ReportOutcomesResponse__Output>(outcomes, 'ReportOutcomes', { outcomes: list }, key);
/** An identify event carrying `ids` (the profile store links them). */
function event(messageId: string, ids: PulseEvent['identifiers'], at = T0 - HOUR): PulseEvent {
  return {
    type: 'identify', messageId, timestamp: at, userId: ids.find((i) => i.type === 'user_id')?.id, anonymousId: undefined, event: '',
    properties: {}, traits: {}, context: {}, identifiers: ids, extra: {},
  };
}

const ts = (ms: number) => ({ seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 });
const impression = (id: string, at: number, o: Partial<Outcome> = {}): Outcome => ({
  kind: 'OUTCOME_KIND_IMPRESSION', id, campaignId: 'camp-1', creativeId: 'cr-1', channel: 'web',
  identifiers: [{ type: 'cookie', id: 'browser-1' }], timestamp: ts(at), ...o,
});

void t.test('a sliding window: the cap frees exactly one window after the oldest counted impression', async (t) => {
  clock = T0;
  await setCap({ id: 'camp1-3-per-hour', scope: 'CAP_SCOPE_CAMPAIGN', target: 'camp-1', limit: 3, windowSeconds: 3600 });
  const r = await report([impression('imp-a', T0 - 50 * 60_000), impression('imp-b', T0 - 20 * 60_000), impression('imp-c', T0 - 1000)]);
  t.same(r.results.map((x) => x.status), ['OUTCOME_STATUS_ACCEPTED', 'OUTCOME_STATUS_ACCEPTED', 'OUTCOME_STATUS_ACCEPTED']);

  const req = { identifiers: [{ type: 'cookie', id: 'browser-1' }], campaignIds: ['camp-1'] };
  const at = await check(req);
  t.same(at.cappedCampaigns, ['camp-1']);
  t.equal(at.caps[0]?.count, 3);
  const freesAt = T0 - 50 * 60_000 + HOUR;
  t.equal(at.caps[0]?.freesAt?.seconds, String(freesAt / 1000), 'frees when imp-a leaves the window');

  clock = freesAt - 1;
  t.equal((await check(req)).caps[0]?.capped, true, 'one millisecond before: still capped');
  clock = freesAt;
  const freed = await check(req);
  t.same({ capped: freed.caps[0]?.capped, count: freed.caps[0]?.count, list: freed.cappedCampaigns }, { capped: false, count: 2, list: [] }, 'exactly one window old no longer counts');
  t.equal(freed.caps[0]?.freesAt, null);
});

void t.test('the same impression reported twice counts once', async (t) => {
  clock = T0;
  await setCap({ id: 'cr9-2-per-day', scope: 'CAP_SCOPE_CREATIVE', target: 'cr-9', limit: 2, windowSeconds: 86_400 });
  const imp = impression('imp-dup', T0 - 5000, { campaignId: 'camp-9', creativeId: 'cr-9' });
  t.equal((await report([imp])).results[0]?.status, 'OUTCOME_STATUS_ACCEPTED');
  t.equal((await report([imp])).results[0]?.status, 'OUTCOME_STATUS_DUPLICATE', 'a retry is a duplicate');
  const r = await check({ identifiers: [{ type: 'cookie', id: 'browser-1' }], creativeIds: ['cr-9'] });
  t.same({ count: r.caps[0]?.count, capped: r.caps[0]?.capped }, { count: 1, capped: false });
  t.equal((await report([impression('imp-dup-2', T0 - 4000, { campaignId: 'camp-9', creativeId: 'cr-9' })])).results[0]?.status, 'OUTCOME_STATUS_ACCEPTED');
  t.same((await check({ identifiers: [{ type: 'cookie', id: 'browser-1' }], creativeIds: ['cr-9'] })).cappedCreatives, ['cr-9']);
});

void t.test('a cap is reached across two devices of one person', async (t) => {
  clock = T0;
  await setCap({ id: 'camp2-2-per-day', scope: 'CAP_SCOPE_CAMPAIGN', target: 'camp-2', limit: 2, windowSeconds: 86_400 });
  await report([
    impression('imp-phone', T0 - 3000, { campaignId: 'camp-2', channel: 'mobile', identifiers: [{ type: 'gaid', id: 'phone-1' }] }),
    impression('imp-browser', T0 - 2000, { campaignId: 'camp-2', channel: 'web', identifiers: [{ type: 'cookie', id: 'browser-1' }] }),
  ]);
  const fromPhone = await check({ identifiers: [{ type: 'gaid', id: 'phone-1' }], campaignIds: ['camp-2'] });
  t.same(fromPhone.cappedCampaigns, ['camp-2'], 'one impression per device, two for the person');
  t.ok(fromPhone.profileId);
  const stranger = await check({ identifiers: [{ type: 'gaid', id: 'someone-else' }], campaignIds: ['camp-2'] });
  t.same({ profileId: stranger.profileId, count: stranger.caps[0]?.count, capped: stranger.cappedCampaigns }, { profileId: '', count: 0, capped: [] });
  const otherTenant = await call<CheckCapsResponse__Output>(frequency, 'CheckCaps', { identifiers: [{ type: 'gaid', id: 'phone-1' }] }, OTHER);
  t.same(otherTenant.caps, [], 'another tenant sees neither the caps nor the impressions');
});

void t.test('per-channel caps count only their channel; cross-channel caps count all', async (t) => {
  clock = T0;
  await setCap({ id: 'camp3-ctv-1', scope: 'CAP_SCOPE_CAMPAIGN', target: 'camp-3', limit: 1, windowSeconds: 86_400, channel: 'ctv' });
  await setCap({ id: 'camp3-all-3', scope: 'CAP_SCOPE_CAMPAIGN', target: 'camp-3', limit: 3, windowSeconds: 86_400 });
  const person = [{ type: 'gaid', id: 'phone-1' }];
  await report([
    impression('imp-3a', T0 - 3000, { campaignId: 'camp-3', channel: 'web', identifiers: person }),
    impression('imp-3b', T0 - 2000, { campaignId: 'camp-3', channel: 'mobile', identifiers: person }),
  ]);
  const before = await check({ identifiers: person, campaignIds: ['camp-3'] });
  t.same(before.caps.map((c) => [c.cap?.id, c.count, c.capped]), [['camp3-all-3', 2, false], ['camp3-ctv-1', 0, false]]);
  await report([impression('imp-3c', T0 - 1000, { campaignId: 'camp-3', channel: 'ctv', identifiers: person })]);
  const after = await check({ identifiers: person, campaignIds: ['camp-3'] });
  t.same(after.caps.map((c) => [c.cap?.id, c.count, c.capped]), [['camp3-all-3', 3, true], ['camp3-ctv-1', 1, true]]);
  const webOnly = await check({ identifiers: person, campaignIds: ['camp-3'], channel: 'web' });
  t.same(webOnly.caps.map((c) => c.cap?.id), ['camp3-all-3'], 'on web the ctv cap does not apply');
});

void t.test('impressions of users without a profile count under their identifiers', async (t) => {
  clock = T0;
  await setCap({ id: 'camp4-1', scope: 'CAP_SCOPE_CAMPAIGN', target: 'camp-4', limit: 1, windowSeconds: 600 });
  await report([impression('imp-anon', T0 - 1000, { campaignId: 'camp-4', identifiers: [{ type: 'idfa', id: 'unknown-device' }] })]);
  const r = await check({ identifiers: [{ type: 'idfa', id: 'unknown-device' }], campaignIds: ['camp-4'] });
  t.same({ profileId: r.profileId, capped: r.cappedCampaigns }, { profileId: '', capped: ['camp-4'] });
});

void t.test('caps are managed with scope admin and validated', async (t) => {
  const listed = await call<{ caps: FrequencyCap[] }>(frequency, 'ListCaps', {}, ADMIN);
  t.ok(listed.caps.some((c) => c.id === 'camp1-3-per-hour' && c.windowSeconds === '3600' && c.scope === 'CAP_SCOPE_CAMPAIGN'));
  await t.rejects(setCap({ id: 'x', scope: 'CAP_SCOPE_CAMPAIGN', target: 'c', limit: 1, windowSeconds: 60 }, BIDDER), { code: grpc.status.PERMISSION_DENIED });
  await t.rejects(setCap({ id: 'x', scope: 'CAP_SCOPE_CAMPAIGN', target: 'c', limit: 0, windowSeconds: 60 }), { code: grpc.status.INVALID_ARGUMENT, details: /^limit/ });
  await t.rejects(setCap({ id: 'x', scope: 'CAP_SCOPE_CAMPAIGN', target: 'c', limit: 1, windowSeconds: 31 * 86_400 }), { code: grpc.status.INVALID_ARGUMENT, details: /^window_seconds/ });
  await t.rejects(setCap({ id: 'x', scope: 'CAP_SCOPE_UNSPECIFIED', target: 'c', limit: 1, windowSeconds: 60 }), { code: grpc.status.INVALID_ARGUMENT, details: /^scope/ });
  await t.rejects(setCap({ id: 'x', scope: 'CAP_SCOPE_CAMPAIGN', target: 'c', limit: 1, windowSeconds: 60, channel: 'radio' }), { code: grpc.status.INVALID_ARGUMENT, details: /^channel/ });
  t.same(await call(frequency, 'DeleteCap', { id: 'camp4-1' }, ADMIN), { deleted: true });
  t.same(await call(frequency, 'DeleteCap', { id: 'camp4-1' }, ADMIN), { deleted: false });
  await t.rejects(check({ identifiers: [] }), { code: grpc.status.INVALID_ARGUMENT, details: /identifiers/ });
});

void t.test('impressions counted on two profiles count together once a login merges them', async (t) => {
  clock = T0;
  await setCap({ id: 'camp7-2-per-day', scope: 'CAP_SCOPE_CAMPAIGN', target: 'camp-7', limit: 2, windowSeconds: 86_400 });
  // Two devices not known to be one person yet: two profiles, one impression each.
  await profiles.applyEvents('acme', [event('m-7a', [{ type: 'user_id', id: 'u-7' }, { type: 'gaid', id: 'phone-7' }], T0 - 2 * HOUR)]);
  await profiles.applyEvents('acme', [event('m-7b', [{ type: 'cookie', id: 'browser-7' }], T0 - HOUR)]);
  await report([
    impression('imp-7-phone', T0 - 3000, { campaignId: 'camp-7', channel: 'mobile', identifiers: [{ type: 'gaid', id: 'phone-7' }] }),
    impression('imp-7-browser', T0 - 2000, { campaignId: 'camp-7', channel: 'web', identifiers: [{ type: 'cookie', id: 'browser-7' }] }),
  ]);
  const req = { identifiers: [{ type: 'gaid', id: 'phone-7' }], campaignIds: ['camp-7'] };
  const before = await check(req);
  t.same({ count: before.caps[0]?.count, capped: before.cappedCampaigns }, { count: 1, capped: [] }, 'apart, each device has one impression');
  const [linked] = await profiles.applyEvents('acme', [event('m-7c', [{ type: 'user_id', id: 'u-7' }, { type: 'cookie', id: 'browser-7' }], T0 - 1000)]);
  t.equal(linked?.merges.length, 1, 'the login merged the browser profile into the phone\'s');
  const after = await check(req);
  t.same({ count: after.caps[0]?.count, capped: after.cappedCampaigns, profile: after.profileId }, { count: 2, capped: ['camp-7'], profile: linked?.profileId }, 'the merged profile carries both impressions');
  const merged = linked?.merges[0]?.merged ?? '';
  t.same(await redis.keys(tenantKeys(ns, 'acme').frequency(`p:${merged}`, '*')), [], 'nothing is left under the merged-away profile');
  t.ok(await redis.pttl(tenantKeys(ns, 'acme').frequency(`p:${linked?.profileId ?? ''}`, 'campaign:camp-7')) > 0, 'the moved zset keeps an expiry');
});
