import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import type { Inventory } from '../../src/gen/pulse/v1/Inventory.ts';
import type { Inventory__Output } from '../../src/gen/pulse/v1/Inventory.ts';
import type { ListInventoryResponse__Output } from '../../src/gen/pulse/v1/ListInventoryResponse.ts';
import type { MatchAudienceResponse__Output } from '../../src/gen/pulse/v1/MatchAudienceResponse.ts';
import type { Outcome } from '../../src/gen/pulse/v1/Outcome.ts';
import type { ReportOutcomesResponse__Output } from '../../src/gen/pulse/v1/ReportOutcomesResponse.ts';
import type { SspReportResponse__Output } from '../../src/gen/pulse/v1/SspReportResponse.ts';
import { eventually } from '../support/env.ts';
import { startE2e } from '../support/e2e.ts';
import { segSize } from '../support/keys.ts';

const ADMIN = 'inventory-admin-key-e2e-0001';
const SSP = 'inventory-ssp-key-e2e-000001';
const BIDDER = 'inventory-bidder-key-e2e-001';
const OTHER = 'inventory-other-tenant-e2e-1';
const DAY = 86_400_000;
// Two whole UTC days in the past (outcomes may not be in the future), inside the 30-day lookback.
const D1 = Math.floor(Date.now() / DAY) * DAY - 2 * DAY;
const D2 = D1 + DAY;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const ts = (ms: number) => ({ seconds: String(Math.floor(ms / 1000)), nanos: 0 });

const e2e = startE2e(t, {
  prefix: 'e2ei',
  keys: [
    { key: ADMIN, tenant: 'acme', scopes: ['*'] },
    { key: SSP, tenant: 'acme', scopes: ['inventory:write', 'outcomes:write'] },
    { key: BIDDER, tenant: 'acme', scopes: ['targeting:read'] },
    { key: OTHER, tenant: 'globex', scopes: ['*'] },
  ],
});
const inv = <Res>(method: string, req: unknown, key = SSP) => e2e.call<Res>('InventoryService', method, req, key);

const site: Inventory = {
  id: 'news', kind: 'INVENTORY_KIND_SITE', domain: 'news.example.com', name: 'News',
  placements: [
    {
      id: 'pl-top', floor: 1, currency: 'USD', formats: [{ banner: { w: 300, h: 250 } }, { banner: { w: 728, h: 90 } }, { video: true }],
      deals: [{ id: 'deal-a', floor: 3 }, { id: 'deal-b', floor: 2 }, { id: 'deal-c', floor: 10 }],
    },
    { id: 'pl-side', floor: 0.5, formats: [{ native: true }] },
  ],
};

void t.test('inventory is validated, upserted per tenant and listed', async (t) => {
  const stored = await inv<Inventory__Output>('RegisterInventory', site);
  t.equal(stored.placements[1]?.currency, 'USD', 'currency defaults to USD');
  t.same(stored.placements[0]?.formats.map((f) => f.format), ['banner', 'banner', 'video']);
  await inv('RegisterInventory', { ...site, name: 'News (renamed)' });
  await inv('RegisterInventory', { id: 'game', kind: 'INVENTORY_KIND_APP', bundle: 'com.example.game', placements: [{ id: 'pl-interstitial', floor: 4, formats: [{ video: true }] }] });
  const list = await inv<ListInventoryResponse__Output>('ListInventory', {});
  t.same(list.inventory.map((i) => [i.id, i.kind, i.name]), [['game', 'INVENTORY_KIND_APP', ''], ['news', 'INVENTORY_KIND_SITE', 'News (renamed)']], 'registering again replaces');

  const refused = (req: unknown, key = SSP) => inv('RegisterInventory', req, key).then(() => undefined, (e: grpc.ServiceError) => [e.code, e.details]);
  t.match(await refused({ ...site, domain: '' }), [grpc.status.INVALID_ARGUMENT, /^domain: required for sites/]);
  t.match(await refused({ ...site, placements: [{ ...site.placements?.[0], deals: [{ id: 'x', floor: -1 }] }] }), [grpc.status.INVALID_ARGUMENT, /^placements\[0\]\.deals\[0\]\.floor:/]);
  t.match(await refused({ ...site, placements: [{ id: 'p', floor: 1, formats: [{ banner: { w: 0, h: 50 } }] }] }), [grpc.status.INVALID_ARGUMENT, /^placements\[0\]\.formats\[0\]\.banner\.w:/]);
  t.match(await refused({ id: 'copycat', kind: 'INVENTORY_KIND_SITE', domain: 'copy.example', placements: [{ id: 'pl-top', floor: 1, formats: [{ video: true }] }] }),
    [grpc.status.ALREADY_EXISTS, /placements\[0\]\.id: placement pl-top belongs to inventory news/], 'a placement belongs to one site or app');
  t.match(await refused(site, BIDDER), [grpc.status.PERMISSION_DENIED], 'needs inventory:write');
  t.same((await inv<ListInventoryResponse__Output>('ListInventory', {}, OTHER)).inventory, [], 'another tenant sees none of it');
  t.match(await inv('MatchAudience', { placementId: 'pl-top' }, OTHER).catch((e: grpc.ServiceError) => e.code), grpc.status.NOT_FOUND, 'nor matches its placements');
});

async function publish(userId: string, traits: Record<string, string>): Promise<void> {
  await e2e.publish('acme', { type: 'identify', messageId: `id-${userId}`, userId, traits, timestamp: new Date(D1).toISOString() });
}

const common = { campaignId: 'camp-1', creativeId: 'cr-1', channel: 'web', currency: 'USD' };
const user = (id: string) => ({ identifiers: [{ type: 'user_id', id }] });
const bid = (id: string, auctionId: string, ssp: string, placementId: string, at: number, price: number, extra: Partial<Outcome> = {}): Outcome =>
  ({ ...common, kind: 'OUTCOME_KIND_BID', id, auctionId, ssp, placementId, timestamp: ts(at), price, ...extra });
const win = (id: string, auctionId: string, ssp: string, placementId: string, at: number, price: number, extra: Partial<Outcome> = {}): Outcome =>
  ({ ...common, kind: 'OUTCOME_KIND_WIN', id, auctionId, ssp, placementId, timestamp: ts(at), price, ...extra });
const loss = (id: string, auctionId: string, ssp: string, placementId: string, at: number): Outcome =>
  ({ ...common, kind: 'OUTCOME_KIND_LOSS', id, auctionId, ssp, placementId, timestamp: ts(at), lossReason: 102 });
const H = 3_600_000;
const OUTCOMES: Outcome[] = [
  // xa, pl-top, day 1: 3 auctions, 3 bids, 2 wins (2 + 4), one loss, one impression.
  bid('b1', 'a1', 'xa', 'pl-top', D1 + H, 2.5, user('u1')), win('b1', 'a1', 'xa', 'pl-top', D1 + H, 2, user('u1')),
  bid('b2', 'a2', 'xa', 'pl-top', D1 + 2 * H, 5, { ...user('u2'), dealId: 'deal-a' }), win('b2', 'a2', 'xa', 'pl-top', D1 + 2 * H, 4, { ...user('u2'), dealId: 'deal-a' }),
  bid('b3', 'a3', 'xa', 'pl-top', D1 + 3 * H, 3), loss('b3', 'a3', 'xa', 'pl-top', D1 + 3 * H),
  { ...common, kind: 'OUTCOME_KIND_IMPRESSION', id: 'i1', ssp: 'xa', placementId: 'pl-top', timestamp: ts(D1 + H) },
  // xa, pl-top, day 2: one auction won at 10 on deal-a by u5.
  bid('b4', 'a4', 'xa', 'pl-top', D2 + H, 12, { ...user('u5'), dealId: 'deal-a' }), win('b4', 'a4', 'xa', 'pl-top', D2 + H, 10, { ...user('u5'), dealId: 'deal-a' }),
  // xb, pl-top, day 2: a win without a reported bid (anonymous, deal-b below its floor), and a lost bid.
  win('b5', 'a5', 'xb', 'pl-top', D2 + 2 * H, 1.5, { dealId: 'deal-b' }),
  bid('b6', 'a6', 'xb', 'pl-top', D2 + 3 * H, 2), loss('b6', 'a6', 'xb', 'pl-top', D2 + 3 * H),
  // xa, pl-side, day 1: u3 won at 100 on another placement.
  bid('b7', 'a7', 'xa', 'pl-side', D1 + 4 * H, 120, user('u3')), win('b7', 'a7', 'xa', 'pl-side', D1 + 4 * H, 100, user('u3')),
  // 40 days ago: outside the report period and MatchAudience's 30-day lookback.
  win('b8', 'a8', 'xa', 'pl-top', D1 - 38 * DAY, 1000, user('u6')),
];

void t.test('MatchAudience ranks segments by members × observed eCPM and deals by value against floor', async (t) => {
  await e2e.call('SegmentService', 'CreateSegment', { id: 'sports', name: 'Sports fans', rule: '{"trait":"interest","op":"eq","value":"sports"}' }, ADMIN);
  await e2e.call('SegmentService', 'CreateSegment', { id: 'autos', name: 'Car owners', rule: '{"trait":"interest","op":"eq","value":"autos"}' }, ADMIN);
  await e2e.call('SegmentService', 'CreateSegment', { id: 'travel', name: 'Travellers', rule: '{"trait":"interest","op":"eq","value":"travel"}' }, ADMIN);
  const interests: Record<string, string> = { u1: 'sports', u2: 'sports', u3: 'sports', u4: 'sports', u5: 'autos', u6: 'autos', u7: 'travel' };
  for (const [u, interest] of Object.entries(interests)) await publish(u, { interest });
  const members = (id: string) => segSize(e2e.redis, e2e.ns, 'acme', id);
  await eventually(async () => ((await members('sports')) === 4 && (await members('autos')) === 2 && (await members('travel')) === 1 ? true : undefined), 30_000, 'memberships');

  const before = await inv<MatchAudienceResponse__Output>('MatchAudience', { placementId: 'pl-top' });
  t.same(before.segments.map((s) => [s.segmentId, s.reach, s.ecpm, s.valueSource, s.score]), [
    ['sports', '4', 1, 'VALUE_SOURCE_FLOOR', 0.004],
    ['autos', '2', 1, 'VALUE_SOURCE_FLOOR', 0.002],
    ['travel', '1', 1, 'VALUE_SOURCE_FLOOR', 0.001],
  ], 'no outcome yet: reach × the placement floor');

  const reported = await e2e.call<ReportOutcomesResponse__Output>('OutcomeService', 'ReportOutcomes', { outcomes: OUTCOMES }, SSP);
  t.same(reported.results.filter((r) => r.status !== 'OUTCOME_STATUS_ACCEPTED'), [], 'every outcome accepted');

  const m = await inv<MatchAudienceResponse__Output>('MatchAudience', { placementId: 'pl-top' });
  t.equal(m.currency, 'USD');
  // sports: u1 won at 2, u2 at 4 -> eCPM 3, score 4 × 3 / 1000; autos: u5 at 10 (u6's win is too old)
  // -> 2 × 10 / 1000; travel: no member won -> the placement's eCPM (2 + 4 + 10 + 1.5) / 4 = 4.375.
  t.same(m.segments.map((s) => [s.segmentId, s.name, s.reach, s.wins, s.ecpm, s.valueSource]), [
    ['autos', 'Car owners', '2', '1', 10, 'VALUE_SOURCE_OBSERVED'],
    ['sports', 'Sports fans', '4', '2', 3, 'VALUE_SOURCE_OBSERVED'],
    ['travel', 'Travellers', '1', '0', 4.375, 'VALUE_SOURCE_PLACEMENT'],
  ]);
  t.same(m.segments.map((s) => Math.round(s.score * 1e6) / 1e6), [0.02, 0.012, 0.004375]);
  // deal-a: (4 + 10) / 2 = 7 >= 3; deal-c: no win, its floor 10; deal-b: 1.5 < floor 2 -> last.
  t.same(m.deals.map((d) => [d.dealId, d.ecpm, d.valueSource, d.wins, d.reach, d.aboveFloor]), [
    ['deal-c', 10, 'VALUE_SOURCE_FLOOR', '0', '0', true],
    ['deal-a', 7, 'VALUE_SOURCE_OBSERVED', '2', '2', true],
    ['deal-b', 1.5, 'VALUE_SOURCE_OBSERVED', '1', '0', false],
  ]);
  t.equal((await inv<MatchAudienceResponse__Output>('MatchAudience', { placementId: 'pl-top', limit: 1 })).segments.length, 1, 'limit');
  t.match(await inv('MatchAudience', { placementId: 'nope' }).catch((e: grpc.ServiceError) => e.code), grpc.status.NOT_FOUND);
  t.match(await inv('MatchAudience', { placementId: '' }).catch((e: grpc.ServiceError) => e.details), /^placement_id:/);
});

void t.test('the SSP report counts requests, bids, wins, fill rate, eCPM and win rate by SSP, placement and day', async (t) => {
  const report = () => inv<SspReportResponse__Output>('SspReport', { from: ts(D1), to: ts(D2 + DAY) });
  await e2e.call('OutcomeService', 'ReportOutcomes', { outcomes: OUTCOMES }, SSP);
  const rows = (await report()).rows.map((r) => [r.ssp, r.placementId, r.day, r.requests, r.bids, r.wins, r.impressions, r.fillRate, r.winRate, r.ecpm, r.revenue]);
  t.same(rows, [
    ['xa', 'pl-side', day(D1), '1', '1', '1', '0', 1, 1, 100, 0.1],
    ['xa', 'pl-top', day(D1), '3', '3', '2', '1', 2 / 3, 2 / 3, 3, 0.006],
    ['xa', 'pl-top', day(D2), '1', '1', '1', '0', 1, 1, 10, 0.01],
    ['xb', 'pl-top', day(D2), '2', '1', '1', '0', 0.5, 1, 1.5, 0.0015],
  ], 'a retried report is not counted twice; the 40-day-old win is outside the period');
  t.same((await inv<SspReportResponse__Output>('SspReport', { from: ts(D2), to: ts(D2 + DAY) })).rows.map((r) => r.day), [day(D2), day(D2)], 'period bounds');
  t.same((await inv<SspReportResponse__Output>('SspReport', { from: ts(D1), to: ts(D2 + DAY) }, OTHER)).rows, [], 'another tenant sees none of it');
  const cli = await e2e.cli(['report', 'ssp', '--from', day(D1), '--to', day(D2 + DAY)]);
  t.equal(cli.code, 0, cli.stderr);
  t.same((JSON.parse(cli.stdout) as SspReportResponse__Output).rows.map((r) => [r.ssp, r.placementId, r.day, r.requests, r.wins, r.ecpm]), rows.map((r) => [r[0], r[1], r[2], r[3], r[5], r[9]]), 'pulse report ssp prints the same rows');
  t.equal((await e2e.cli(['report', 'ssp', '--from', 'yesterday', '--to', day(D2)])).code, 2, 'dates are checked');
  t.match(await inv('SspReport', { from: ts(D2), to: ts(D1) }).catch((e: grpc.ServiceError) => [e.code, e.details]), [grpc.status.INVALID_ARGUMENT, /^to: must be after from/]);
});
