import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import type { CheckCapsResponse__Output } from '../../src/gen/pulse/v1/CheckCapsResponse.ts';
import type { Outcome } from '../../src/gen/pulse/v1/Outcome.ts';
import type { ReportOutcomesResponse__Output } from '../../src/gen/pulse/v1/ReportOutcomesResponse.ts';
import { eventually } from '../support/env.ts';
import { startE2e } from '../support/e2e.ts';
import { bearer } from '../support/pulse-process.ts';

const ADMIN = 'outcomes-admin-key-e2e-0001';
const EXCHANGE = 'outcomes-exchange-key-e2e-01';
const BIDDER = 'outcomes-bidder-key-e2e-0001';
const OTHER = 'outcomes-other-tenant-e2e-01';
const uploads: { updates: { uid: string; segment: string; action: string }[] }[] = [];
let partner: Server | undefined;

t.before(async () => {
  // A DSP's audience upload endpoint.
  const dsp = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => { body += d.toString(); });
    req.on('end', () => {
      uploads.push(JSON.parse(body) as (typeof uploads)[number]);
      res.writeHead(204).end();
    });
  });
  partner = dsp;
  await new Promise<void>((r) => dsp.listen(0, '127.0.0.1', r));
});

t.teardown(async () => {
  await new Promise((r) => (partner === undefined ? r(undefined) : partner.close(r)));
});

const e2e = startE2e(t, {
  prefix: 'e2eo',
  env: () => ({
    PULSE_AUDIENCE_PUSH: JSON.stringify([{ tenant: 'acme', partner: 'dsp-x', url: `http://127.0.0.1:${(partner?.address() as AddressInfo).port}/upload`, segments: ['pros'] }]),
  }),
  keys: [
    { key: ADMIN, tenant: 'acme', scopes: ['*'] },
    { key: EXCHANGE, tenant: 'acme', scopes: ['outcomes:write'] },
    { key: BIDDER, tenant: 'acme', scopes: ['targeting:read'] },
    { key: OTHER, tenant: 'globex', scopes: ['*'] },
  ],
});

const report = (list: Outcome[], key = EXCHANGE) => e2e.call<ReportOutcomesResponse__Output>('OutcomeService', 'ReportOutcomes', { outcomes: list }, key);

async function sql<T>(query: string): Promise<T[]> {
  const res = await fetch(`http://127.0.0.1:${e2e.pulse.httpPort}/v1/sql`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ query }),
  });
  const body = (await res.json()) as { rows: T[] };
  if (!res.ok) throw new Error(JSON.stringify(body));
  return body.rows;
}

const now = Date.now();
const ts = (ms: number) => ({ seconds: String(Math.floor(ms / 1000)), nanos: 0 });
const common = { auctionId: 'auc-1', campaignId: 'camp-1', creativeId: 'cr-1', ssp: 'exchange-a', placementId: 'pl-top', dealId: 'deal-7', channel: 'web' };
const person = [{ type: 'user_id', id: 'buyer-1' }];

void t.test('bids, wins, losses, impressions and clicks are recorded once, retries included', async (t) => {
  await e2e.publish('acme', { type: 'identify', messageId: 'o-1', userId: 'buyer-1', traits: {}, timestamp: new Date(now - 60_000).toISOString() });
  const c = e2e.clients;
  const profile = await eventually(() => c.getProfile({ identifiers: person }, bearer(ADMIN)).catch(() => undefined), 20_000, 'the profile');

  const batch: Outcome[] = [
    { ...common, kind: 'OUTCOME_KIND_BID', id: 'bid-1', price: 2.5, currency: 'EUR', identifiers: person, timestamp: ts(now - 5000) },
    { ...common, kind: 'OUTCOME_KIND_WIN', id: 'bid-1', price: 1.75, currency: 'EUR', timestamp: ts(now - 4900) },
    { ...common, kind: 'OUTCOME_KIND_LOSS', id: 'bid-2', lossReason: 102, timestamp: ts(now - 4900) },
    { ...common, kind: 'OUTCOME_KIND_LOSS', id: 'bid-3', lossReason: 105, timestamp: ts(now - 4900) },
    { ...common, kind: 'OUTCOME_KIND_IMPRESSION', id: 'imp-1', auctionId: '', identifiers: person, timestamp: ts(now - 4000) },
    { ...common, kind: 'OUTCOME_KIND_CLICK', id: 'click-1', auctionId: '', timestamp: ts(now - 3000) },
  ];
  const first = await report(batch);
  t.same(first.results.map((r) => r.status), [
    'OUTCOME_STATUS_ACCEPTED', 'OUTCOME_STATUS_ACCEPTED', 'OUTCOME_STATUS_ACCEPTED', 'OUTCOME_STATUS_INVALID', 'OUTCOME_STATUS_ACCEPTED', 'OUTCOME_STATUS_ACCEPTED',
  ], 'an invalid item does not stop the others');
  t.equal(first.results[3]?.field, 'outcomes[3].loss_reason', 'the unknown loss reason 105 is refused naming the field');
  t.match(first.results[3]?.message, /105 is not an OpenRTB 2\.6 loss reason/);

  const retry = await report(batch);
  t.same(retry.results.map((r) => r.status), [
    'OUTCOME_STATUS_DUPLICATE', 'OUTCOME_STATUS_DUPLICATE', 'OUTCOME_STATUS_DUPLICATE', 'OUTCOME_STATUS_INVALID', 'OUTCOME_STATUS_DUPLICATE', 'OUTCOME_STATUS_DUPLICATE',
  ], 'a retried report is answered duplicate');
  const [a, b] = await Promise.all([report([batch[4] as Outcome]), report([{ ...common, kind: 'OUTCOME_KIND_CLICK', id: 'click-2', auctionId: '', timestamp: ts(now - 2000) }])]);
  t.equal(a.results[0]?.status, 'OUTCOME_STATUS_DUPLICATE');
  t.equal(b.results[0]?.status, 'OUTCOME_STATUS_ACCEPTED');

  const rows = await sql<{ kind: string; id: string; n: string; profile_id: string; price: number; currency: string; loss_reason: number; deal_id: string }>(
    `SELECT kind, id, count() AS n, any(profile_id) AS profile_id, any(price) AS price, any(currency) AS currency, any(loss_reason) AS loss_reason, any(deal_id) AS deal_id
     FROM ${e2e.ns}.outcomes WHERE tenant = 'acme' GROUP BY kind, id ORDER BY kind, id`);
  t.same(rows.map((r) => [r.kind, r.id, Number(r.n)]), [
    ['bid', 'bid-1', 1], ['click', 'click-1', 1], ['click', 'click-2', 1], ['impression', 'imp-1', 1], ['loss', 'bid-2', 1], ['win', 'bid-1', 1],
  ], 'every outcome is in the table exactly once');
  t.match(rows.find((r) => r.kind === 'win'), { price: 1.75, currency: 'EUR', deal_id: 'deal-7' });
  t.match(rows.find((r) => r.kind === 'loss'), { loss_reason: 102, currency: 'USD' });
  t.equal(rows.find((r) => r.kind === 'bid')?.profile_id, profile.id, 'identifiers are resolved to the profile');
  t.equal(rows.find((r) => r.kind === 'win')?.profile_id, '', 'no identifiers, no profile');
});

void t.test('reported impressions count toward caps, through the running process', async (t) => {
  await e2e.call('FrequencyService', 'SetCap', { id: 'camp1-once', scope: 'CAP_SCOPE_CAMPAIGN', target: 'camp-1', limit: 1, windowSeconds: 3600 }, ADMIN);
  const r = await e2e.call<CheckCapsResponse__Output>('FrequencyService', 'CheckCaps', { identifiers: person, campaignIds: ['camp-1'] }, BIDDER);
  t.same({ capped: r.cappedCampaigns, count: r.caps[0]?.count }, { capped: ['camp-1'], count: 1 }, 'imp-1, reported three times, counted once');
});

void t.test('outcomes need scope outcomes:write and stay within the tenant', async (t) => {
  const imp: Outcome = { ...common, kind: 'OUTCOME_KIND_IMPRESSION', id: 'imp-1', auctionId: '', timestamp: ts(now - 1000) };
  await t.rejects(report([imp], BIDDER), { code: grpc.status.PERMISSION_DENIED });
  t.equal((await report([imp], OTHER)).results[0]?.status, 'OUTCOME_STATUS_ACCEPTED', 'the same id in another tenant is another outcome');
  await t.rejects(report(Array.from({ length: 5001 }, () => imp)), { code: grpc.status.INVALID_ARGUMENT, details: /^outcomes: at most/ });
});

void t.test('segment changes are pushed to the configured DSP in its user ids (user sync first)', async (t) => {
  const synced = await fetch(`http://127.0.0.1:${e2e.pulse.httpPort}/v1/sync?writeKey=${ADMIN}&partner=dsp-x&uid=DSP-USER-9`, {
    headers: { cookie: 'ajs_anonymous_id=%22visitor-9%22' },
  });
  t.same(await synced.json(), { synced: true }, 'the sync pixel stores the partner uid against the analytics.js anonymous id');
  const c = e2e.clients;
  await e2e.publish('acme', { type: 'identify', messageId: 'o-9', anonymousId: 'visitor-9', traits: { plan: 'pro' }, timestamp: new Date().toISOString() });
  await eventually(() => c.getProfile({ identifiers: [{ type: 'anonymous_id', id: 'visitor-9' }] }, bearer(ADMIN)).catch(() => undefined), 20_000, 'the profile');
  // Created after the profile exists, the segment's backfill makes the person enter it.
  await c.createSegment({ id: 'pros', name: 'Pros', rule: '{"trait":"plan","op":"eq","value":"pro"}' }, bearer(ADMIN));
  const updates = await eventually(async () => {
    const all = uploads.flatMap((u) => u.updates);
    return all.length > 0 ? all : undefined;
  }, 20_000, 'the DSP to receive the segment');
  t.same(updates.map((u) => [u.uid, u.segment, u.action]), [['DSP-USER-9', 'pros', 'add']]);
  const status = await fetch(`http://127.0.0.1:${e2e.pulse.httpPort}/v1/push/status`, { headers: { authorization: `Bearer ${ADMIN}` } });
  t.match(await status.json(), { partners: { 'dsp-x': { updates: 1, failures: undefined } } });
});
