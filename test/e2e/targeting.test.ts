import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import type { AudienceAnswer__Output } from '../../src/gen/pulse/v1/AudienceAnswer.ts';
import type { BatchGetAudienceRequest } from '../../src/gen/pulse/v1/BatchGetAudienceRequest.ts';
import type { BatchGetAudienceResponse__Output } from '../../src/gen/pulse/v1/BatchGetAudienceResponse.ts';
import { eventually } from '../support/env.ts';
import { startE2e } from '../support/e2e.ts';
import { bearer } from '../support/pulse-process.ts';

// The fixtures' TC string: purposes 1-4 and 7, vendor consent for 123 and 456, purpose 4
// forbidden to 456 by a publisher restriction (test/fixtures/openrtb/README.md).
const TC = 'CP6ywkAP6ywkAEsACBENBkFAAPIAAEIAAAYgDkQAgA9gHIAxWACAxUAEQABAOQAA.IGKwAwA9gHIAYqAA';
const K = {
  admin: 'acme-admin-key-000000001',
  dspA: 'acme-dsp-a-key-000000001',
  dspB: 'acme-dsp-b-key-000000001',
  dspC: 'acme-dsp-c-key-000000001',
  limited: 'acme-dsp-a-limited-00001',
  globexAdmin: 'globex-admin-key-0000001',
  globexDsp: 'globex-dsp-a-key-0000001',
};
const e2e = startE2e(t, {
  prefix: 'tgt',
  keys: [
    { key: K.admin, tenant: 'acme', scopes: ['*'] },
    { key: K.dspA, tenant: 'acme', scopes: ['targeting:read'], partner: { id: 'dsp-a', iabVendorId: 123 } },
    { key: K.dspB, tenant: 'acme', scopes: ['targeting:read'], partner: { id: 'dsp-b', iabVendorId: 456 } },
    { key: K.dspC, tenant: 'acme', scopes: ['targeting:read'], partner: { id: 'dsp-c', iabVendorId: 123 } },
    { key: K.limited, tenant: 'acme', scopes: ['targeting:read'], partner: { id: 'dsp-a', iabVendorId: 123 }, rateLimit: 5 },
    { key: K.globexAdmin, tenant: 'globex', scopes: ['*'] },
    { key: K.globexDsp, tenant: 'globex', scopes: ['targeting:read'], partner: { id: 'dsp-a', iabVendorId: 123 } },
  ],
  env: { PULSE_TARGETING: '{"acme": {"dataName": "acme.example", "segtax": 650}}' },
});
const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/openrtb/${name}`, import.meta.url));

interface Audience { profileId: string; segments: { id: string; name: string; taxonomyId: string }[] }
const audience = (key: string, req: object) => e2e.call<Audience>('TargetingService', 'GetAudience', req, key);
const enrichCall = (key: string, bytes: Buffer) => e2e.call<{ openrtbJson: Buffer; enriched: boolean }>('TargetingService', 'EnrichBidRequest', { openrtbJson: bytes }, key);
const sharing = <Res>(method: string, req: object, key: string) => e2e.call<Res>('DataSharingService', method, req, key);
const ids = (a: Audience) => a.segments.map((s) => s.id);

/** Sends `messages` on one BatchGetAudience stream and collects the responses. */
function batch(key: string, messages: BatchGetAudienceRequest[]): Promise<BatchGetAudienceResponse__Output[]> {
  return new Promise((resolve, reject) => {
    const stream = e2e.service('TargetingService').BatchGetAudience(bearer(key));
    const out: BatchGetAudienceResponse__Output[] = [];
    stream.on('data', (r: BatchGetAudienceResponse__Output) => out.push(r));
    stream.on('error', reject);
    stream.on('end', () => resolve(out));
    for (const m of messages) stream.write(m);
    stream.end();
  });
}

t.before(async () => {
  for (const tenantKey of [K.admin, K.globexAdmin]) {
    await e2e.call('SegmentService', 'CreateSegment', { id: 'sports', name: 'Sports fans', rule: '{"trait":"interest","op":"eq","value":"sports"}' }, tenantKey);
    await e2e.call('SegmentService', 'CreateSegment', { id: 'autos', name: 'Car owners', rule: '{"trait":"car","op":"eq","value":"yes"}' }, tenantKey);
  }
  await sharing('SetSegmentTaxonomy', { segmentId: 'sports', taxonomyId: '243' }, K.admin);
  const traits = { interest: 'sports', car: 'yes' };
  const at = '2026-11-01T10:00:00.000Z';
  await e2e.publish('acme', { type: 'identify', messageId: 'u1', userId: 'u1', traits, timestamp: at });
  await e2e.publish('acme', { type: 'identify', messageId: 'u2', userId: 'u2', traits, timestamp: at, context: { consent: { tcf: TC } } });
  await e2e.publish('acme', { type: 'identify', messageId: 'de', userId: 'u-de', traits, timestamp: at, context: { externalIds: [{ type: 'partner:id5', id: 'ID5*de7e7e7e7e' }] } });
  await e2e.publish('acme', { type: 'identify', messageId: 'banner', userId: 'u-banner', traits, timestamp: at, context: { externalIds: [{ type: 'partner:dsp-a', id: 'dsp-user-5f1c2a' }] } });
  await e2e.publish('acme', { type: 'identify', messageId: 'kid', userId: 'u-kid', traits, timestamp: at, context: { externalIds: [{ type: 'partner:dsp-a', id: 'dsp-kid-1' }] } });
  await e2e.publish('acme', { type: 'identify', messageId: 'ca', userId: 'u-ca', traits, timestamp: at, context: { externalIds: [{ type: 'partner:dsp-a', id: 'exchange-uid-ca-3' }] } });
  await e2e.publish('acme', { type: 'identify', messageId: 'audio', userId: 'u-audio', traits, timestamp: at, context: { externalIds: [{ type: 'gaid', id: '6d92078a-8246-4ba4-ae5b-76104861e7dc' }] } });
  await e2e.publish('globex', { type: 'identify', messageId: 'g1', userId: 'g1', traits, timestamp: at });
  for (const [tenantKey, id] of [[K.admin, 'u-audio'], [K.admin, 'u-ca'], [K.globexAdmin, 'g1']] as const) {
    await eventually(async () => ((await audience(tenantKey, { identifiers: [{ type: 'user_id', id }] })).segments.length === 2 ? true : undefined), 30_000, `${id} in both segments`);
  }
});

void t.test('data-sharing agreements filter what each partner sees, and every change is recorded', async (t) => {
  const u1 = { identifiers: [{ type: 'user_id', id: 'u1' }] };
  const first = await audience(K.admin, u1);
  t.same(first.segments, [{ id: 'autos', name: 'Car owners', taxonomyId: '' }, { id: 'sports', name: 'Sports fans', taxonomyId: '243' }], 'a first-party key sees every segment, with taxonomy ids');
  t.same(await audience(K.dspA, u1), { profileId: '', segments: [] }, 'a partner without an agreement sees nothing, not even the profile id');

  const sub = e2e.nc.subscribe(`${e2e.ns}.changes.acme.sharing`, { max: 2 });
  const announced = (async () => { const out: unknown[] = []; for await (const m of sub) out.push(m.json()); return out; })();
  const set = await sharing<{ partner: string; all: boolean; segmentIds: string[] }>('SetSharing', { partner: 'dsp-a', segmentIds: ['sports', 'sports'] }, K.admin);
  t.same(set, { partner: 'dsp-a', all: false, segmentIds: ['sports'] });
  const cli = await e2e.cli(['sharing', 'set', '--partner', 'dsp-b', '--all']);
  t.equal(cli.code, 0, cli.stderr);
  t.match(cli.stdout, /"all": true/);
  t.match(await announced, [{ partner: 'dsp-a', after: { segmentIds: ['sports'] } }, { partner: 'dsp-b', after: { all: true } }], 'changes are published on <ns>.changes.acme.sharing');

  await eventually(async () => (ids(await audience(K.dspA, u1)).length === 1 ? true : undefined), 5_000, 'the agreement to apply');
  t.same(ids(await audience(K.dspA, u1)), ['sports'], 'dsp-a sees only the shared segment');
  t.same(ids(await audience(K.dspB, u1)), ['autos', 'sports'], 'dsp-b shares all');
  t.same(ids(await audience(K.dspC, u1)), [], 'dsp-c still nothing');
  await t.rejects(sharing('SetSharing', { partner: 'dsp-a', all: true }, K.dspA), { code: grpc.status.PERMISSION_DENIED }, 'a partner cannot change agreements');
  await t.rejects(sharing('SetSharing', { partner: 'Bad Partner', all: true }, K.admin), { code: grpc.status.INVALID_ARGUMENT, details: /partner/ });

  const list = await sharing<{ agreements: unknown[] }>('ListSharing', {}, K.admin);
  t.same(list.agreements, [{ partner: 'dsp-a', all: false, segmentIds: ['sports'] }, { partner: 'dsp-b', all: true, segmentIds: [] }]);
  const sql = await e2e.cli(['sql', `SELECT partner, after_all, after_segments, added, removed FROM ${e2e.ns}.sharing_audit WHERE tenant = 'acme' ORDER BY at`]);
  t.equal(sql.code, 0, sql.stderr);
  t.match(sql.stdout, /dsp-a\s+\|\s+0\s+\|\s+\["sports"\]\s+\|\s+\["sports"\]\s+\|\s+\[\]/);
  t.match(sql.stdout, /dsp-b\s+\|\s+1\s+\|\s+\[\]\s+\|\s+\["\*"\]/);
  t.match(sql.stdout, /\(2 rows\)/, 'each change is one audit row');
});

void t.test('a partner receives segments only with consent for its vendor id: the request\'s TC string, else the profile\'s', async (t) => {
  const u1 = [{ type: 'user_id', id: 'u1' }];
  const u2 = [{ type: 'user_id', id: 'u2' }];
  t.same(ids(await audience(K.dspA, { identifiers: u1, tcString: TC, gdpr: 1 })), ['sports'], 'vendor 123 has consent for purposes 3 and 4');
  const refused = await audience(K.dspB, { identifiers: u1, tcString: TC, gdpr: 1 });
  t.same(refused, { profileId: '', segments: [] }, 'vendor 456 is refused (publisher restriction on purpose 4): nothing, not even the profile id');
  t.same(ids(await audience(K.dspB, { identifiers: u1, gdpr: 1 })), [], 'GDPR applies and there is no TC string anywhere');
  t.same(ids(await audience(K.dspB, { identifiers: u1, gdpr: 0 })), ['autos', 'sports'], 'GDPR does not apply');
  t.same(ids(await audience(K.dspB, { identifiers: u2 })), [], 'u2\'s stored TC string refuses vendor 456');
  t.same(ids(await audience(K.dspA, { identifiers: u2 })), ['sports'], 'and allows vendor 123');
  t.same(ids(await audience(K.admin, { identifiers: u2 })), ['autos', 'sports'], 'first-party use is not a partner transfer');
  await t.rejects(audience(K.dspA, { identifiers: [{ type: 'shoe', id: '1' }] }), { code: grpc.status.INVALID_ARGUMENT, details: /identifiers\[0\]/ });
});

void t.test('BatchGetAudience answers every lookup of every message with its id, filtered the same way', async (t) => {
  const lookups = (n: number, offset: number) => Array.from({ length: n }, (_, i) => ({ id: `q${offset + i}`, identifiers: [{ type: 'user_id', id: ['u1', 'u2', 'nobody'][i % 3] ?? '' }] }));
  const responses = await batch(K.dspB, [
    { lookups: lookups(300, 0) },
    { lookups: [...lookups(3, 300), { id: 'bad', identifiers: [{ type: 'shoe', id: '1' }] }, { id: 'gdpr0', identifiers: [{ type: 'user_id', id: 'u2' }], gdpr: 0 }] },
  ]);
  t.equal(responses.length, 2, 'one response per message');
  const answers = new Map<string, AudienceAnswer__Output>(responses.flatMap((r) => r.answers.map((a) => [a.id, a] as const)));
  t.equal(answers.size, 305, 'every lookup answered once');
  t.same(answers.get('q0')?.segments.map((s) => s.id), ['autos', 'sports'], 'u1: no consent signal, dsp-b shares all');
  t.same(answers.get('q1')?.segments, [], 'u2: stored consent refuses vendor 456');
  t.equal(answers.get('q2')?.profileId, '', 'unknown user');
  t.match(answers.get('bad'), { error: /lookups\[3\]\.identifiers\[0\]: unknown identifier type/, segments: [] }, 'a bad lookup carries its error, the others are answered');
  t.same(answers.get('gdpr0')?.segments.map((s) => s.id), ['autos', 'sports'], 'per-lookup privacy signals');
  await t.rejects(batch('no-such-key-000000000000', [{ lookups: lookups(1, 0) }]), { code: grpc.status.UNAUTHENTICATED });
  const metrics = await e2e.metrics();
  t.match(metrics, /pulse_grpc_handler_seconds_count\{method="BatchGetAudience",code="OK"\} [1-9]/, 'each message is timed');
  t.match(metrics, /pulse_grpc_handler_seconds_count\{method="BatchGetAudience\/item",code="OK"\} [1-9]/, 'and the time per lookup');
});

void t.test('EnrichBidRequest enriches OpenRTB 2.6 requests of several kinds for the calling partner', async (t) => {
  await sharing('SetSharing', { partner: 'dsp-a', all: true }, K.admin);
  await eventually(async () => (ids(await audience(K.dspA, { identifiers: [{ type: 'user_id', id: 'u1' }] })).length === 2 ? true : undefined), 5_000, 'sharing all');

  const gdpr = await enrichCall(K.dspA, fixture('gdpr-consent.json'));
  t.equal(gdpr.enriched, true, 'GDPR with consent for vendor 123: user resolved from user.eids (ID5)');
  const out = JSON.parse(gdpr.openrtbJson.toString()) as { user: { data: unknown[] }; imp: { ext: { data: Record<string, unknown> } }[]; site: unknown };
  t.same(out.user.data, [
    { id: 'acme.example', name: 'acme.example', segment: [{ id: 'autos', name: 'Car owners' }, { id: 'sports', name: 'Sports fans' }], ext: { segtax: 650 } },
    { id: 'acme.example', name: 'acme.example', segment: [{ id: '243' }], ext: { segtax: 4 } },
  ], 'user.data gets the segments (data name and segtax from PULSE_TARGETING) and their IAB Audience Taxonomy nodes');
  t.same(out.imp[0]?.ext.data['pulse_segs'], ['autos', 'sports'], 'each imp gets targeting keys');
  t.same(out.site, (JSON.parse(fixture('gdpr-consent.json').toString()) as { site: unknown }).site, 'everything else is kept');

  const unchanged = async (key: string, name: string, why: string) => {
    const r = await enrichCall(key, fixture(name));
    t.equal(r.enriched, false, why);
    t.same(Buffer.from(r.openrtbJson), fixture(name), `${name} comes back byte for byte`);
  };
  await unchanged(K.dspB, 'gdpr-consent.json', 'vendor 456 lacks consent for purpose 4');
  const banner = await enrichCall(K.dspA, fixture('banner-site.json'));
  t.equal(banner.enriched, true, 'banner, site, gdpr 0: resolved from user.buyeruid in the caller\'s namespace');
  const audio = await enrichCall(K.dspA, fixture('audio-app.json'));
  t.equal(audio.enriched, true, 'audio, app: resolved from device.ifa as a GAID');
  await unchanged(K.dspA, 'coppa.json', 'COPPA');
  await unchanged(K.dspA, 'us-privacy-optout.json', 'US Privacy opt-out of sale');
  await unchanged(K.dspA, 'native-site.json', 'native, unknown user');
  await unchanged(K.dspA, 'ctv-video.json', 'CTV with an IFA type Pulse has no identifier for, unknown buyeruid');
  await unchanged(K.dspA, 'app-ifa-lmt.json', 'lmt = 1: the IFA is not used');
  await unchanged(K.dspA, 'gpp-usnat.json', 'a GPP section Pulse cannot evaluate');

  await t.rejects(enrichCall(K.dspA, Buffer.from('{"id": "x", ')), { code: grpc.status.INVALID_ARGUMENT, details: /^body/ });
  await t.rejects(enrichCall(K.dspA, Buffer.from('{"id": "x", "imp": [{"id": "1", "video": {}}]}')), { code: grpc.status.INVALID_ARGUMENT, details: /imp\[0\]\.video\.mimes/ });
  await t.rejects(enrichCall(K.dspA, Buffer.from('{"id": "x"}')), { code: grpc.status.INVALID_ARGUMENT, details: /^imp/ });
});

void t.test('no tenant can read another tenant\'s data', async (t) => {
  await sharing('SetSharing', { partner: 'dsp-a', all: true }, K.globexAdmin);
  const acmeUser = { identifiers: [{ type: 'user_id', id: 'u1' }] };
  t.same(await audience(K.globexAdmin, acmeUser), { profileId: '', segments: [] }, 'GetAudience with globex\'s admin key finds no acme user');
  t.same(await audience(K.globexDsp, acmeUser), { profileId: '', segments: [] }, 'nor with globex\'s partner key (same partner id as acme\'s dsp-a)');
  t.same(ids(await audience(K.globexDsp, { identifiers: [{ type: 'user_id', id: 'g1' }] })), ['autos', 'sports'], 'while globex\'s own user is visible to it');
  const [response] = await batch(K.globexDsp, [{ lookups: ['u1', 'u2', 'u-de'].map((id) => ({ id, identifiers: [{ type: 'user_id', id }] })) }]);
  t.same(response?.answers.map((a) => [a.profileId, a.segments.length]), [['', 0], ['', 0], ['', 0]], 'BatchGetAudience finds none of them');
  for (const name of ['gdpr-consent.json', 'banner-site.json', 'audio-app.json']) {
    const r = await enrichCall(K.globexDsp, fixture(name));
    t.equal(r.enriched, false, `EnrichBidRequest of ${name} adds nothing of acme's`);
  }
  const list = await sharing<{ agreements: { partner: string; all: boolean }[] }>('ListSharing', {}, K.globexAdmin);
  t.same(list.agreements, [{ partner: 'dsp-a', all: true, segmentIds: [] }], 'agreements are per tenant');
});

void t.test('per-partner rate limits answer RESOURCE_EXHAUSTED beyond the key\'s rate', async (t) => {
  const results = await Promise.allSettled(Array.from({ length: 20 }, () => audience(K.limited, { identifiers: [{ type: 'user_id', id: 'u1' }] })));
  const ok = results.filter((r) => r.status === 'fulfilled').length;
  const exhausted = results.filter((r) => r.status === 'rejected' && (r.reason as grpc.ServiceError).code === grpc.status.RESOURCE_EXHAUSTED).length;
  t.ok(ok >= 5 && ok <= 6, `the burst of 5 passes (${ok} passed)`);
  t.equal(ok + exhausted, 20, `the rest are RESOURCE_EXHAUSTED (${exhausted})`);
  await t.rejects(batch(K.limited, [{ lookups: Array.from({ length: 50 }, (_, i) => ({ id: String(i), identifiers: [{ type: 'user_id', id: 'u1' }] })) }]), { code: grpc.status.RESOURCE_EXHAUSTED }, 'a streamed message costs its lookups');
  t.equal((await audience(K.dspA, { identifiers: [{ type: 'user_id', id: 'u1' }] })).profileId !== '', true, 'other keys of the same partner are not affected');
});
