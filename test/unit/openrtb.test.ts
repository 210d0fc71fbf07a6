import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';
import { decodeTcString } from '../../src/privacy/consent.ts';
import {
  EID_SOURCES, MAX_REQUEST_IDENTIFIERS, SEGTAX_IAB_AUDIENCE_1_1, eidPartner, enrich, identifiersOf, parseBidRequest, privacySignals, serialize,
  type BidRequest, type EnrichOptions,
} from '../../src/targeting/openrtb.ts';
import { partnerMayReceive } from '../../src/targeting/partner-consent.ts';

const DIR = new URL('../fixtures/openrtb/', import.meta.url);
const FIXTURES = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
const text = (name: string): string => readFileSync(new URL(name, DIR), 'utf8');
const fixture = (name: string): BidRequest => parseBidRequest(Buffer.from(text(name)));
const bytes = (v: unknown): Uint8Array => Buffer.from(JSON.stringify(v));
const clone = <T>(v: T): T => structuredClone(v);

// The TC string of the GDPR fixtures grants purposes 1-4 and 7, vendor consent to 123 and 456,
// only legitimate interest to 789, and a publisher restriction forbids purpose 4 to 456.
const VENDORS = [123, 456, 789] as const;
const CTX = { exchange: 'exch', buyer: 'dsp' };

const AUDIENCE = {
  segments: [
    { id: 'seg-sports', name: 'Sports fans', taxonomyId: '607' },
    { id: 'seg-cart', name: 'Abandoned cart' },
    { id: 'seg-soccer', name: 'Soccer fans', taxonomyId: '663' },
  ],
};
const ALLOWED = { allowed: true, reason: 'test' };
const OPTIONS: EnrichOptions = { decision: ALLOWED, dataName: 'pulse.example', providerId: 'pulse', segtax: 600, targetingKeyPrefix: 'pulse' };

const ALLOWED_NO_GDPR = ['GDPR does not apply', 'GDPR does not apply', 'GDPR does not apply'];
const TCF_DECISIONS = ['vendor 123 has consent for purposes 3, 4', 'a publisher restriction forbids vendor 456 purpose 4', 'vendor 789 lacks vendor consent'];

/** What each fixture must yield; every fixture on disk must be listed. */
const EXPECTED: Record<string, {
  identifiers: [string, string][];
  ignored?: [string, string][];
  signals: Partial<Record<'gdprApplies' | 'coppa' | 'usPrivacy' | 'gppSections' | 'gppUncheckedSections' | 'limitAdTracking', unknown>> & { tc?: boolean };
  decisions: string[];
}> = {
  'app-ifa-lmt.json': {
    identifiers: [['partner:exch', 'ffffffd5135596709273b3a1a07e466ea2bf4fff']],
    ignored: [['device.ifa', 'limit ad tracking (device.lmt = 1)']],
    signals: { gdprApplies: undefined, limitAdTracking: true, tc: false },
    decisions: ALLOWED_NO_GDPR,
  },
  'audio-app.json': {
    identifiers: [['gaid', '6d92078a-8246-4ba4-ae5b-76104861e7dc'], ['partner:dsp', 'dsp-7c1e']],
    signals: { gdprApplies: undefined, limitAdTracking: false, coppa: false },
    decisions: ALLOWED_NO_GDPR,
  },
  'banner-site.json': {
    identifiers: [['partner:dsp', 'dsp-user-5f1c2a'], ['partner:exch', '55816b39711f9b5acf3b90e313ed29e51665623f']],
    signals: { gdprApplies: false, tc: false },
    decisions: ALLOWED_NO_GDPR,
  },
  'coppa.json': {
    identifiers: [['gaid', '9f7b3c1e-2d4a-4e6f-8a1b-3c5d7e9f1a2b'], ['partner:dsp', 'dsp-kid-1']],
    signals: { coppa: true },
    decisions: Array(3).fill('COPPA applies: no personalised data') as string[],
  },
  'ctv-video.json': {
    identifiers: [['partner:dsp', 'dsp-ctv-44']],
    ignored: [['device.ifa', 'device.ext.ifa_type "rida" has no Pulse identifier type']],
    signals: { limitAdTracking: false },
    decisions: ALLOWED_NO_GDPR,
  },
  'gdpr-consent.json': {
    identifiers: [['partner:exch', 'exchange-uid-de-7'], ['partner:id5', 'ID5*de7e7e7e7e']],
    signals: { gdprApplies: true, tc: true, gppSections: [] },
    decisions: TCF_DECISIONS,
  },
  'gdpr-ext-2.5.json': {
    identifiers: [['gaid', '38400000-8cf0-11bd-b23e-10b96e40000d'], ['partner:exch', 'exchange-uid-fr-9'], ['partner:criteo', 'criteo-fr-1']],
    signals: { gdprApplies: true, tc: true, usPrivacy: '1---' },
    decisions: TCF_DECISIONS,
  },
  'gpp-tcf.json': {
    identifiers: [['partner:liveramp', 'XY9999it']],
    signals: { gdprApplies: true, tc: true, usPrivacy: '1YNN', gppSections: [2, 6], gppUncheckedSections: [] },
    decisions: TCF_DECISIONS,
  },
  'gpp-usnat.json': {
    identifiers: [['partner:uid2', 'A4AAAABlh75T6-usnat']],
    signals: { gdprApplies: undefined, tc: false, gppSections: [7], gppUncheckedSections: [7] },
    decisions: Array(3).fill('GPP section 7 applies and Pulse cannot evaluate it') as string[],
  },
  'native-site.json': {
    identifiers: [['partner:exch', '55816b39711f9b5acf3b90e313ed29e51665623f']],
    signals: { gdprApplies: undefined },
    decisions: ALLOWED_NO_GDPR,
  },
  'site-eids.json': {
    identifiers: [
      ['partner:exch', 'exchange-uid-0042'],
      ['partner:liveramp', 'XY1000bIVBVah9ium-sZ3ykhPiXQbEcUpn4GjCtxrrw2BRDGM'],
      ['partner:id5', 'ID5*xe3R0Pbrc5Y4WBrb5UZSWTiGOyxPDLwXvHlb'],
      ['partner:ttd', '6bca7f6b-a98a-46c0-be05-6020f5c0a1c4'],
      ['partner:uid2', 'A4AAAABlh75T6-7ONqoI_hzSzzQMgf2j0SMNZsUwf7PJd-qvGP1C'],
      ['partner:sharedid', 'e5a4d1f0-1b7c-4c2e-8d1a-0c2f6b9d8e71'],
      ['partner:idp_example-graph_io', 'eg-778899'],
    ],
    signals: { gdprApplies: undefined, tc: false },
    decisions: ALLOWED_NO_GDPR,
  },
  'us-privacy-optout.json': {
    identifiers: [['partner:exch', 'exchange-uid-ca-3']],
    signals: { usPrivacy: '1YYN' },
    decisions: Array(3).fill('us_privacy 1YYN: the user opted out of sale') as string[],
  },
  'video-app.json': {
    identifiers: [['idfa', 'aa000dfe-7416-8477-c70d-291f574d3447'], ['partner:exch', 'ffffffd5135596709273b3a1a07e466ea2bf4fff']],
    signals: { coppa: false, limitAdTracking: false },
    decisions: ALLOWED_NO_GDPR,
  },
};

void t.test('every fixture parses, round-trips and has expectations', async (t) => {
  t.strictSame(FIXTURES, Object.keys(EXPECTED).sort(), 'fixtures on disk = fixtures with expectations');
  for (const name of FIXTURES) {
    const request = fixture(name);
    t.strictSame(request, JSON.parse(text(name)), `${name}: every field kept`);
    t.strictSame(JSON.parse(Buffer.from(serialize(request)).toString('utf8')), JSON.parse(text(name)), `${name}: serialize round-trips`);
  }
});

void t.test('the fixtures cover banner, video, audio, native, site, app and each privacy signal', async (t) => {
  const all = FIXTURES.map(fixture);
  for (const media of ['banner', 'video', 'audio', 'native'] as const) t.ok(all.some((r) => r.imp.some((i) => i[media] !== undefined)), media);
  t.ok(all.some((r) => r.site !== undefined) && all.some((r) => r.app !== undefined), 'site and app');
  t.ok(all.some((r) => r.device?.ifa !== undefined && r.device.lmt === 1), 'device.ifa with lmt');
  t.ok(all.some((r) => (r.user?.eids?.length ?? 0) > 0), 'user.eids');
  t.ok(all.some((r) => r.regs?.gdpr === 1 && r.user?.consent !== undefined), 'regs.gdpr + user.consent');
  t.ok(all.some((r) => r.regs?.gpp !== undefined && r.regs.gpp_sid !== undefined), 'regs.gpp + gpp_sid');
  t.ok(all.some((r) => r.regs?.coppa === 1), 'COPPA');
  t.ok(all.some((r) => r.regs?.us_privacy !== undefined), 'us_privacy');
});

void t.test('identifiers per fixture', async (t) => {
  for (const name of FIXTURES) {
    const want = EXPECTED[name];
    if (want === undefined) continue;
    const got = identifiersOf(fixture(name), CTX);
    t.strictSame(got.identifiers.map((i) => [i.type, i.id]), want.identifiers, name);
    t.strictSame(got.ignored.map((i) => [i.field, i.reason]), want.ignored ?? [], `${name}: ignored`);
  }
});

void t.test('privacy signals and partner decisions per fixture', async (t) => {
  for (const name of FIXTURES) {
    const want = EXPECTED[name];
    if (want === undefined) continue;
    const signals = privacySignals(fixture(name));
    const { tc, ...rest } = want.signals;
    t.match(signals, rest, `${name}: signals`);
    for (const [k, v] of Object.entries(rest)) if (v === undefined) t.equal(signals[k as keyof typeof signals], undefined, `${name}: ${k} unsignalled`);
    if (tc !== undefined) t.equal(signals.tcString !== undefined, tc, `${name}: TC string ${tc ? 'found' : 'absent'}`);
    if (tc === true) t.ok(decodeTcString(signals.tcString ?? ''), `${name}: the TC string decodes`);
    t.strictSame(VENDORS.map((vendorId) => partnerMayReceive({ ...signals, vendorId }).reason), want.decisions, `${name}: decisions for ${VENDORS.join(', ')}`);
  }
});

const VALID = { id: 'req-1', imp: [{ id: '1', banner: { w: 300, h: 250 } }], site: { id: 's' } };

void t.test('each missing or mistyped field is refused by its path', async (t) => {
  const cases: [string, (r: Record<string, unknown> & { imp: Record<string, unknown>[] }) => void, string][] = [
    ['id', (r) => { delete r['id']; }, 'id: is required'],
    ['id', (r) => { r['id'] = 42; }, 'id: must be a string'],
    ['id', (r) => { r['id'] = ''; }, 'id: must not be empty'],
    ['imp', (r) => { delete (r as Record<string, unknown>)['imp']; }, 'imp: is required'],
    ['imp', (r) => { r.imp = []; }, 'imp: must not be empty'],
    ['imp', (r) => { (r as Record<string, unknown>)['imp'] = { id: '1' }; }, 'imp: must be an array'],
    ['imp[0].id', (r) => { delete r.imp[0]?.['id']; }, 'imp[0].id: is required'],
    ['imp[0]', (r) => { (r.imp as unknown[])[0] = null; }, 'imp[0]: must be an object'],
    ['imp[0].id', (r) => { if (r.imp[0]) r.imp[0]['id'] = 1; }, 'imp[0].id: must be a string'],
    ['imp[0]', (r) => { delete r.imp[0]?.['banner']; }, 'imp[0]: needs at least one of banner, video, audio, native'],
    ['imp[1]', (r) => { r.imp.push({ id: '2' }); }, 'imp[1]: needs at least one of banner, video, audio, native'],
    ['imp[1].id', (r) => { r.imp.push({ id: '1', banner: {} }); }, 'imp[1].id: duplicate impression id "1"'],
    ['imp[0].banner', (r) => { if (r.imp[0]) r.imp[0]['banner'] = [300, 250]; }, 'imp[0].banner: must be an object'],
    ['imp[0].video.mimes', (r) => { if (r.imp[0]) r.imp[0]['video'] = { w: 640 }; }, 'imp[0].video.mimes: is required'],
    ['imp[0].video.mimes', (r) => { if (r.imp[0]) r.imp[0]['video'] = { mimes: [] }; }, 'imp[0].video.mimes: must not be empty'],
    ['imp[0].video.mimes[1]', (r) => { if (r.imp[0]) r.imp[0]['video'] = { mimes: ['video/mp4', 7] }; }, 'imp[0].video.mimes[1]: must be a string'],
    ['imp[0].audio.mimes', (r) => { if (r.imp[0]) r.imp[0]['audio'] = {}; }, 'imp[0].audio.mimes: is required'],
    ['imp[0].native.request', (r) => { if (r.imp[0]) r.imp[0]['native'] = { ver: '1.2' }; }, 'imp[0].native.request: is required'],
    ['imp[0].native.request', (r) => { if (r.imp[0]) r.imp[0]['native'] = { request: { ver: '1.2' } }; }, 'imp[0].native.request: must be a string'],
    ['imp[0].ext.data', (r) => { if (r.imp[0]) r.imp[0]['ext'] = { data: 'x' }; }, 'imp[0].ext.data: must be an object'],
    ['app', (r) => { r['app'] = { id: 'a' }; }, 'app: site and app are mutually exclusive'],
    ['dooh', (r) => { r['dooh'] = { id: 'd' }; }, 'dooh: site and dooh are mutually exclusive'],
    ['user', (r) => { r['user'] = 'u'; }, 'user: must be an object'],
    ['user.id', (r) => { r['user'] = { id: 7 }; }, 'user.id: must be a string'],
    ['user.buyeruid', (r) => { r['user'] = { buyeruid: null }; }, 'user.buyeruid: must be a string'],
    ['user.consent', (r) => { r['user'] = { consent: 1 }; }, 'user.consent: must be a string'],
    ['user.eids[0].source', (r) => { r['user'] = { eids: [{ uids: [{ id: 'x' }] }] }; }, 'user.eids[0].source: is required'],
    ['user.eids[0].uids', (r) => { r['user'] = { eids: [{ source: 'liveramp.com' }] }; }, 'user.eids[0].uids: is required'],
    ['user.eids[0].uids[1].id', (r) => { r['user'] = { eids: [{ source: 'liveramp.com', uids: [{ id: 'a' }, { id: 3 }] }] }; }, 'user.eids[0].uids[1].id: must be a string'],
    ['user.ext.eids[0].uids[0].id', (r) => { r['user'] = { ext: { eids: [{ source: 's', uids: [{}] }] } }; }, 'user.ext.eids[0].uids[0].id: is required'],
    ['user.ext.consent', (r) => { r['user'] = { ext: { consent: false } }; }, 'user.ext.consent: must be a string'],
    ['user.data', (r) => { r['user'] = { data: {} }; }, 'user.data: must be an array'],
    ['user.data[0]', (r) => { r['user'] = { data: ['seg'] }; }, 'user.data[0]: must be an object'],
    ['device.ifa', (r) => { r['device'] = { ifa: 1234 }; }, 'device.ifa: must be a string'],
    ['device.lmt', (r) => { r['device'] = { lmt: true }; }, 'device.lmt: must be 0 or 1'],
    ['device.ext.atts', (r) => { r['device'] = { ext: { atts: '3' } }; }, 'device.ext.atts: must be a number'],
    ['regs.gdpr', (r) => { r['regs'] = { gdpr: '1' }; }, 'regs.gdpr: must be 0 or 1'],
    ['regs.coppa', (r) => { r['regs'] = { coppa: 2 }; }, 'regs.coppa: must be 0 or 1'],
    ['regs.ext.gdpr', (r) => { r['regs'] = { ext: { gdpr: 'yes' } }; }, 'regs.ext.gdpr: must be 0 or 1'],
    ['regs.us_privacy', (r) => { r['regs'] = { us_privacy: 1 }; }, 'regs.us_privacy: must be a string'],
    ['regs.gpp', (r) => { r['regs'] = { gpp: ['DBABMA'] }; }, 'regs.gpp: must be a string'],
    ['regs.gpp_sid', (r) => { r['regs'] = { gpp_sid: 2 }; }, 'regs.gpp_sid: must be an array'],
    ['regs.gpp_sid[0]', (r) => { r['regs'] = { gpp_sid: [2.5] }; }, 'regs.gpp_sid[0]: must be an integer'],
  ];
  for (const [field, mutate, message] of cases) {
    const r = clone(VALID) as unknown as Parameters<typeof mutate>[0];
    mutate(r);
    t.throws(() => parseBidRequest(bytes(r)), { name: 'PulseError', code: 'INVALID_ARGUMENT', field, message }, message);
  }
});

void t.test('each fixture refuses the loss of a required field by its path', async (t) => {
  for (const name of FIXTURES) {
    const raw = JSON.parse(text(name)) as { id?: unknown; imp: Record<string, Record<string, unknown> | undefined>[] };
    const noId = clone(raw);
    delete noId.id;
    t.throws(() => parseBidRequest(bytes(noId)), { name: 'PulseError', field: 'id' }, `${name}: id`);
    raw.imp.forEach((imp, i) => {
      const noImpId = clone(raw);
      delete noImpId.imp[i]?.['id'];
      t.throws(() => parseBidRequest(bytes(noImpId)), { name: 'PulseError', field: `imp[${i}].id` }, `${name}: imp[${i}].id`);
      for (const media of ['video', 'audio'] as const) {
        if (imp[media] === undefined) continue;
        const noMimes = clone(raw);
        delete noMimes.imp[i]?.[media]?.['mimes'];
        t.throws(() => parseBidRequest(bytes(noMimes)), { field: `imp[${i}].${media}.mimes`, message: `imp[${i}].${media}.mimes: is required` }, `${name}: ${media}.mimes`);
      }
      if (imp['native'] !== undefined) {
        const noRequest = clone(raw);
        delete noRequest.imp[i]?.['native']?.['request'];
        t.throws(() => parseBidRequest(bytes(noRequest)), { name: 'PulseError', field: `imp[${i}].native.request` }, `${name}: native.request`);
      }
    });
  }
});

void t.test('a body that is not JSON of an object is refused as `body`', async (t) => {
  const body = (b: Uint8Array, message: string) => t.throws(() => parseBidRequest(b), { code: 'INVALID_ARGUMENT', field: 'body', message }, message);
  body(Buffer.from('{"id":'), 'body: not valid UTF-8 JSON');
  body(Buffer.from(''), 'body: not valid UTF-8 JSON');
  body(Uint8Array.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), 'body: not valid UTF-8 JSON');
  for (const v of ['[]', 'null', '"x"', '42']) body(Buffer.from(v), 'body: must be a JSON object (an OpenRTB BidRequest)');
  t.strictSame(parseBidRequest(Buffer.from(`\uFEFF${JSON.stringify(VALID)}`)), VALID, 'a UTF-8 byte order mark is tolerated');
});

void t.test('neither site nor app nor dooh is accepted; unknown fields are kept at every level', async (t) => {
  const r = { id: 'x', imp: [{ id: '1', banner: {}, ext: { gpid: 'g', data: { k: 1 } }, future: [1] }], future: { a: 1 }, user: { future: true, ext: { x: 1 } } };
  t.strictSame(parseBidRequest(bytes(r)), r);
  const proto = '{"__proto__":{"polluted":1},"id":"x","imp":[{"id":"1","banner":{}}]}';
  const parsed = parseBidRequest(Buffer.from(proto));
  t.equal(Buffer.from(serialize(enrich(parsed, { segments: [{ id: 'a', name: 'A' }] }, OPTIONS))).toString('utf8').startsWith('{"__proto__":{"polluted":1},'), true, 'a `__proto__` key is data, kept as such');
  t.equal(({} as Record<string, unknown>)['polluted'], undefined);
});

void t.test('device advertising ids', async (t) => {
  const ids = (device: Record<string, unknown>) => {
    const got = identifiersOf(parseBidRequest(bytes({ ...VALID, device })));
    return { ids: got.identifiers.map((i) => `${i.type}:${i.id}`), ignored: got.ignored.map((i) => i.reason) };
  };
  const IFA = '6D92078A-8246-4BA4-AE5B-76104861E7DC';
  const lower = IFA.toLowerCase();
  t.strictSame(ids({ ifa: IFA, os: 'iOS' }).ids, [`idfa:${lower}`], 'iOS: idfa, lowercased');
  t.strictSame(ids({ ifa: IFA, os: 'iPadOS' }).ids, [`idfa:${lower}`]);
  t.strictSame(ids({ ifa: IFA, os: 'tvOS' }).ids, [`idfa:${lower}`]);
  t.strictSame(ids({ ifa: IFA, os: 'Android' }).ids, [`gaid:${lower}`], 'Android: gaid');
  t.strictSame(ids({ ifa: IFA, os: 'android' }).ids, [`gaid:${lower}`]);
  t.strictSame(ids({ ifa: ` ${IFA} `, os: 'Android' }).ids, [`gaid:${lower}`], 'trimmed');
  t.strictSame(ids({ ifa: IFA, os: 'Roku', ext: { ifa_type: 'aaid' } }).ids, [`gaid:${lower}`], 'ifa_type aaid wins over the OS');
  t.strictSame(ids({ ifa: IFA, os: 'Android', ext: { ifa_type: 'IDFA' } }).ids, [`idfa:${lower}`], 'ifa_type idfa');
  t.strictSame(ids({ ifa: IFA, os: 'iOS', ext: { ifa_type: 'dpid' } }).ids, [`idfa:${lower}`], 'a generic device id type falls back to the OS');
  t.strictSame(ids({ ifa: IFA, os: 'iOS', lmt: 0, ext: { atts: 3 } }).ids, [`idfa:${lower}`], 'ATT authorized');
  t.strictSame(ids({ ifa: IFA, os: 'Android', ext: { atts: 2 } }).ids, [`gaid:${lower}`], 'ATT is Apple\'s');

  t.strictSame(ids({ ifa: IFA, os: 'iOS', lmt: 1 }), { ids: [], ignored: ['limit ad tracking (device.lmt = 1)'] });
  t.strictSame(ids({ ifa: IFA, os: 'iOS', ext: { atts: 2 } }), { ids: [], ignored: ['App Tracking Transparency denied (device.ext.atts = 2)'] });
  t.strictSame(ids({ ifa: IFA, os: 'iOS', ext: { atts: 1 } }), { ids: [], ignored: ['App Tracking Transparency restricted (device.ext.atts = 1)'] });
  t.strictSame(ids({ ifa: '00000000-0000-0000-0000-000000000000', os: 'Android' }), { ids: [], ignored: ['zeroed (tracking limited)'] });
  t.strictSame(ids({ ifa: 'AA000DFE74168477C70D291f574D344790E0BB11', os: 'iOS' }), { ids: [], ignored: ['not a UUID'] });
  for (const type of ['sessionid', 'ppid', 'sspid', 'SESSIONID']) {
    t.strictSame(ids({ ifa: IFA, os: 'Android', ext: { ifa_type: type } }), { ids: [], ignored: [`device.ext.ifa_type ${type.toLowerCase()} is not a device advertising id`] }, type);
  }
  t.strictSame(ids({ ifa: IFA, os: 'Tizen', ext: { ifa_type: 'tifa' } }).ignored, ['device.ext.ifa_type "tifa" has no Pulse identifier type']);
  t.strictSame(ids({ ifa: IFA, os: 'Windows' }).ignored, ['device.os "windows" has no advertising id type Pulse knows']);
  t.strictSame(ids({ ifa: IFA }).ignored, ['device.os "" has no advertising id type Pulse knows']);
  t.strictSame(ids({ ifa: '', os: 'iOS' }), { ids: [], ignored: [] }, 'an empty ifa is no ifa');
});

void t.test('user.id and user.buyeruid need the namespace of whoever set them', async (t) => {
  const r = parseBidRequest(bytes({ ...VALID, user: { id: 'ex-1', buyeruid: 'buy-1' } }));
  t.strictSame(identifiersOf(r), {
    identifiers: [],
    ignored: [
      { field: 'user.buyeruid', reason: 'no buyer named: the id has no namespace' },
      { field: 'user.id', reason: 'no exchange named: the id has no namespace' },
    ],
  });
  t.strictSame(identifiersOf(r, { exchange: 'magnite' }).identifiers, [{ type: 'partner:magnite', id: 'ex-1' }]);
  t.strictSame(identifiersOf(r, { buyer: 'dv360' }).identifiers, [{ type: 'partner:dv360', id: 'buy-1' }]);
  t.match(identifiersOf(r, { exchange: 'Bad Name' }).ignored, [{ field: 'user.buyeruid' }, { field: 'user.id', reason: /^unknown identifier type "partner:Bad Name"/ }]);
  const long = parseBidRequest(bytes({ ...VALID, user: { id: 'x'.repeat(300) } }));
  t.match(identifiersOf(long, CTX).ignored, [{ field: 'user.id', reason: 'identifier partner:exch must be 1-256 printable characters without surrounding spaces' }]);
});

void t.test('eids sources map to partner names', async (t) => {
  t.equal(EID_SOURCES['liveramp.com'], 'liveramp');
  t.equal(EID_SOURCES['id5-sync.com'], 'id5');
  t.equal(EID_SOURCES['adserver.org'], 'ttd');
  t.equal(eidPartner('LiveRamp.com'), 'liveramp');
  t.equal(eidPartner('https://www.liveramp.com/'), 'liveramp');
  t.equal(eidPartner('adserver.org', { ext: { rtiPartner: 'UID2' } }), 'uid2');
  t.equal(eidPartner('adserver.org', { ext: { rtiPartner: 'TDID' } }), 'ttd');
  t.equal(eidPartner('ids.example.co.uk'), 'ids_example_co_uk');
  t.equal(eidPartner('.hidden.example'), 'hidden_example');
  t.equal(eidPartner('a'.repeat(40)), 'a'.repeat(32));
  t.equal(eidPartner('...'), undefined);
  t.equal(eidPartner(''), undefined);
  const r = parseBidRequest(bytes({
    ...VALID,
    user: {
      eids: [{ source: '...', uids: [{ id: 'x' }] }, { source: 'id5-sync.com', uids: [{ id: 'a' }, { id: 'a' }, { id: ' ' }] }],
      ext: { eids: [{ source: 'id5-sync.com', uids: [{ id: 'a' }, { id: 'b' }] }] },
    },
  }));
  t.strictSame(identifiersOf(r), {
    identifiers: [{ type: 'partner:id5', id: 'a' }, { type: 'partner:id5', id: 'b' }],
    ignored: [
      { field: 'user.eids[0].uids[0].id', reason: 'source "..." gives no partner name' },
      { field: 'user.eids[1].uids[2].id', reason: 'identifier partner:id5 must be 1-256 printable characters without surrounding spaces' },
    ],
  }, 'duplicates once, 2.5 user.ext.eids read too, bad ids skipped with their reason');
});

void t.test(`at most ${MAX_REQUEST_IDENTIFIERS} identifiers`, async (t) => {
  const uids = Array.from({ length: 40 }, (_, i) => ({ id: `u${i}` }));
  const got = identifiersOf(parseBidRequest(bytes({ ...VALID, user: { eids: [{ source: 'liveramp.com', uids }] } })));
  t.equal(got.identifiers.length, MAX_REQUEST_IDENTIFIERS);
  t.equal(got.identifiers.at(-1)?.id, 'u31');
  t.equal(got.ignored.length, 8);
  t.strictSame(got.ignored[0], { field: 'user.eids[0].uids[32].id', reason: `more than ${MAX_REQUEST_IDENTIFIERS} identifiers` });
});

void t.test('privacy signals from the 2.6 fields, their 2.5 ext forms and GPP', async (t) => {
  const signals = (regs: unknown, user?: unknown, device?: unknown) => privacySignals(parseBidRequest(bytes({ ...VALID, regs, user, device })));
  t.match(signals({ gdpr: 1 }), { gdprApplies: true, tcString: undefined });
  t.match(signals({ gdpr: 0 }), { gdprApplies: false });
  t.equal(signals({}).gdprApplies, undefined, 'unsignalled');
  t.match(signals({ ext: { gdpr: 1 } }), { gdprApplies: true });
  t.match(signals({ gdpr: 0, ext: { gdpr: 1 } }), { gdprApplies: true }, 'any 1 wins');
  t.match(signals({ gdpr: 0, gpp: 'DBABMA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA', gpp_sid: [2] }), { gdprApplies: true, tcString: 'CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA' }, 'GPP TCF EU applies');
  t.match(signals({ gdpr: 1 }, { consent: 'core', ext: { consent: 'ext' } }), { tcString: 'core' }, '2.6 user.consent first');
  t.match(signals({ gdpr: 1 }, { consent: '', ext: { consent: 'ext' } }), { tcString: 'ext' }, 'an empty string is absent');
  t.match(signals({ gdpr: 1, gpp: 'DBABMA~gpp-tc', gpp_sid: [2] }, { ext: { consent: 'ext' } }), { tcString: 'ext' }, 'user.ext.consent before GPP');
  t.match(signals({ us_privacy: '1YNN', ext: { us_privacy: '1YYN' } }), { usPrivacy: '1YNN' }, '2.6 regs.us_privacy first');
  t.match(signals({ ext: { us_privacy: '1YYN' } }), { usPrivacy: '1YYN' });
  t.match(signals({ gpp: 'DBACNYA~tc~1YYN', gpp_sid: [6] }), { usPrivacy: '1YYN', gppSections: [6], gppUncheckedSections: [] }, 'US Privacy from GPP section 6');
  t.match(signals({ gpp: 'DBABMA~tc', gpp_sid: [6] }), { usPrivacy: undefined, gppUncheckedSections: [6] }, 'section 6 applies, with no string to check');
  t.match(signals({ gpp: 'DBABMA~tc', gpp_sid: [6], us_privacy: '1NNN' }), { usPrivacy: '1NNN', gppUncheckedSections: [] });
  t.match(signals({ gpp: 'DBACNYA~tc~1YNN' }), { gppSections: [2, 6], gdprApplies: true, tcString: 'tc' }, 'no gpp_sid: the header\'s sections apply');
  t.match(signals({ gpp: 'DBABLA~BVQqAAAAAgA.QA', gpp_sid: [7, 8, 7] }), { gppSections: [7, 8], gppUncheckedSections: [7, 8] });
  t.match(signals({ gpp: 'DBABLA~BVQqAAAAAgA.QA', gpp_sid: [-1] }), { gppSections: [], gppUncheckedSections: [] }, 'gpp_sid -1: no section applies');
  t.match(signals({ gpp: 'garbage', gpp_sid: [2] }), { gdprApplies: true, tcString: undefined }, 'an unreadable GPP string: TCF applies with no TC string');
  t.match(signals({ gpp: 'garbage' }), { gppSections: [], gdprApplies: undefined }, 'unreadable and no gpp_sid: nothing known applies');
  t.match(signals({ coppa: 1 }), { coppa: true });
  t.match(signals({ coppa: 0 }), { coppa: false });
  t.match(signals(undefined, undefined, { lmt: 1 }), { limitAdTracking: true });
  t.match(signals(undefined, undefined, { ext: { atts: 2 } }), { limitAdTracking: true });
  t.match(signals(undefined, undefined, { lmt: 0, ext: { atts: 3 } }), { limitAdTracking: false });
  t.strictSame(partnerMayReceive({ ...signals({ gpp: 'garbage', gpp_sid: [2] }), vendorId: 123 }), { allowed: false, reason: 'GDPR applies and there is no TC string' });
});

void t.test('enrichment adds user.data with segtax and per-impression targeting keys', async (t) => {
  const request = fixture('site-eids.json');
  const before = clone(request);
  const out = enrich(request, AUDIENCE, OPTIONS);
  t.strictSame(request, before, 'the input is not mutated');
  t.strictSame(out.user?.data, [
    { id: 'publisher-fpd', name: 'news.example', segment: [{ id: 'politics' }], ext: { segtax: 7 } },
    { id: 'pulse', name: 'pulse.example', segment: [{ id: 'seg-sports', name: 'Sports fans' }, { id: 'seg-cart', name: 'Abandoned cart' }, { id: 'seg-soccer', name: 'Soccer fans' }], ext: { segtax: 600 } },
    { id: 'pulse', name: 'pulse.example', segment: [{ id: '607' }, { id: '663' }], ext: { segtax: SEGTAX_IAB_AUDIENCE_1_1 } },
  ]);
  t.equal(SEGTAX_IAB_AUDIENCE_1_1, 4);
  t.strictSame(out.imp.map((i) => i.ext?.data), [
    { pbadslot: '/1234/news/article', pulse_segs: ['seg-sports', 'seg-cart', 'seg-soccer'] },
    { pulse_segs: ['seg-sports', 'seg-cart', 'seg-soccer'] },
  ]);
  // Everything else is as it came.
  const strip = (r: BidRequest) => {
    const c = clone(r) as BidRequest & { user: Record<string, unknown> };
    delete c.user['data'];
    for (const imp of c.imp) delete imp.ext?.data?.['pulse_segs'];
    if (c.imp[1]?.ext !== undefined) delete c.imp[1].ext;
    return c;
  };
  const original = strip(before);
  t.strictSame(strip(out), original, 'unknown fields survive');
  t.strictSame(out.user?.['ext'], { custom: { keep: true } });
  t.strictSame(out['ext'], { prebid: { channel: { name: 'pbjs', version: '8.30.0' } } });
  t.strictSame(parseBidRequest(serialize(out)), out, 'the output is a valid OpenRTB 2.6 request that round-trips');
});

void t.test('enrichment of every fixture keeps it valid and adds only Pulse\'s parts', async (t) => {
  for (const name of FIXTURES) {
    const out = enrich(fixture(name), AUDIENCE, { ...OPTIONS, segmentNames: false });
    const ours = out.user?.data?.filter((d) => d.name === 'pulse.example');
    t.strictSame(ours?.map((d) => [d.ext?.['segtax'], d.segment]), [
      [600, [{ id: 'seg-sports' }, { id: 'seg-cart' }, { id: 'seg-soccer' }]],
      [4, [{ id: '607' }, { id: '663' }]],
    ], `${name}: user.data without names`);
    t.ok(out.imp.every((i) => Array.isArray(i.ext?.data?.['pulse_segs'])), `${name}: every imp has the key`);
    t.strictSame(parseBidRequest(serialize(out)), out, `${name}: still valid`);
    t.strictSame({ ...out, user: undefined, imp: undefined }, { ...JSON.parse(text(name)) as object, user: undefined, imp: undefined }, `${name}: the rest untouched`);
  }
});

void t.test('enrichment is idempotent and replaces only its own earlier entries', async (t) => {
  const once = enrich(fixture('banner-site.json'), AUDIENCE, OPTIONS);
  t.strictSame(enrich(once, AUDIENCE, OPTIONS), once);
  const fewer = enrich(once, { segments: [{ id: 'seg-cart', name: 'Abandoned cart' }] }, OPTIONS);
  t.strictSame(fewer.user?.data, [{ id: 'pulse', name: 'pulse.example', segment: [{ id: 'seg-cart', name: 'Abandoned cart' }], ext: { segtax: 600 } }]);
  t.strictSame(fewer.imp[0]?.ext?.data, { pulse_segs: ['seg-cart'] });
  const other = enrich(once, AUDIENCE, { ...OPTIONS, dataName: 'other.example', segtax: 601 });
  t.equal(other.user?.data?.length, 4, 'another provider\'s entries are kept');
});

void t.test('nothing to add or not allowed: the same object comes back', async (t) => {
  const request = fixture('gdpr-consent.json');
  t.equal(enrich(request, undefined, OPTIONS), request, 'unknown user');
  t.equal(enrich(request, { segments: [] }, OPTIONS), request, 'no segments');
  const decision = partnerMayReceive({ ...privacySignals(request), vendorId: 789 });
  t.equal(decision.allowed, false);
  t.equal(enrich(request, AUDIENCE, { ...OPTIONS, decision }), request, 'a partner without consent');
  t.equal(Buffer.from(serialize(enrich(request, undefined, OPTIONS))).toString('utf8'), JSON.stringify(JSON.parse(text('gdpr-consent.json'))), 'same bytes as the compact input');
});

void t.test('a request without user or imp ext gets them', async (t) => {
  const out = enrich(parseBidRequest(bytes(VALID)), { segments: [{ id: 'a', name: 'A' }] }, { decision: ALLOWED, dataName: 'd', segtax: 500, targetingKeyPrefix: 'p' });
  t.strictSame(out, { ...VALID, user: { data: [{ id: 'd', name: 'd', segment: [{ id: 'a', name: 'A' }], ext: { segtax: 500 } }] }, imp: [{ ...VALID.imp[0], ext: { data: { p_segs: ['a'] } } }] });
});

void t.test('enrichment options are checked', async (t) => {
  const request = parseBidRequest(bytes(VALID));
  const bad: [Partial<EnrichOptions>, string][] = [
    [{ dataName: '' }, 'dataName'],
    [{ providerId: '' }, 'providerId'],
    [{ segtax: 0 }, 'segtax'],
    [{ segtax: 1.5 }, 'segtax'],
    [{ segtax: 4 }, 'segtax'],
    [{ targetingKeyPrefix: 'Pulse' }, 'targetingKeyPrefix'],
    [{ targetingKeyPrefix: '' }, 'targetingKeyPrefix'],
  ];
  for (const [patch, field] of bad) {
    t.throws(() => enrich(request, AUDIENCE, { ...OPTIONS, ...patch }), { name: 'PulseError', code: 'INVALID_ARGUMENT', field, message: new RegExp(`^${field}: `) }, `${JSON.stringify(patch)} -> ${field}`);
  }
  t.throws(() => enrich(request, undefined, { ...OPTIONS, segtax: 4 }), { name: 'PulseError', field: 'segtax' }, 'checked even when nothing is added');
});
