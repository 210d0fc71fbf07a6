import t from 'tap';
import { normalizeEvent, type PulseEvent } from '../../src/collection/event.ts';
import {
  DEFAULT_CONSENT_POLICY, DEFAULT_CONSENT_SETTINGS, decideConsent, decodeTcString, memoDecoder, parseConsentPolicies, policyFor,
  type ConsentPolicy, type ConsentSettings,
} from '../../src/privacy/consent.ts';
import { anonymize, consentGate } from '../../src/privacy/gate.ts';
import { loadConfig, type ConfigError } from '../../src/config/config.ts';
import { OTHER_VENDOR, PULSE_VENDOR, tcString } from '../support/tcf.ts';

const consented = tcString({ purposes: [1, 3, 4], vendors: [PULSE_VENDOR] });
const noPurpose3 = tcString({ purposes: [1, 4], vendors: [PULSE_VENDOR] });
const otherVendorOnly = tcString({ purposes: [1, 3, 4], vendors: [OTHER_VENDOR] });
const restricted = tcString({ purposes: [1, 3, 4], vendors: [PULSE_VENDOR], notAllowed: [3] });
const MALFORMED = 'not-a-tc-string!';
const policy = (p: Partial<ConsentPolicy> = {}): ConsentPolicy => ({ ...DEFAULT_CONSENT_POLICY, ...p });

void t.test('a TC string decodes into the compact record', async (t) => {
  const s = tcString({ purposes: [1, 3, 4], legitimateInterests: [2, 7], vendors: [PULSE_VENDOR], vendorLegitimateInterests: [PULSE_VENDOR], cmpId: 31 });
  const d = decideConsent({ tcf: s, gdprApplies: true }, policy(), PULSE_VENDOR);
  t.equal(d.allow, true);
  t.equal(d.reason, 'consented');
  t.match(d.record, {
    tcString: s, gdprApplies: true, cmpId: 31, cmpVersion: 2, policyVersion: 5, vendorListVersion: 50, publisherCountryCode: 'FR', isServiceSpecific: false,
    purposes: [1, 3, 4], legitimateInterests: [2, 7], specialFeatures: [], vendorId: PULSE_VENDOR, vendorConsent: true, vendorLegitimateInterest: true,
  });
  t.type(d.record?.lastUpdated, 'number');
  t.same(JSON.parse(JSON.stringify(d.record)), d.record, 'plain JSON, as a trait must be');
});

void t.test('GDPR applies: Purpose 3 and the vendor\'s consent are required', async (t) => {
  const decide = (tcf: string, vendorId: number | undefined) => decideConsent({ tcf, gdprApplies: true }, policy(), vendorId);
  t.match(decide(consented, PULSE_VENDOR), { allow: true, reason: 'consented' });
  t.match(decide(noPurpose3, PULSE_VENDOR), { allow: false, reason: 'no-consent', record: { purposes: [1, 4], vendorConsent: true } }, 'no Purpose 3');
  t.match(decide(otherVendorOnly, PULSE_VENDOR), { allow: false, reason: 'no-consent', record: { vendorConsent: false } }, 'not Pulse\'s vendor');
  t.match(decide(restricted, PULSE_VENDOR), { allow: false, reason: 'no-consent' }, 'a publisher restriction forbids Purpose 3 to Pulse');
  t.match(decide(otherVendorOnly, undefined), { allow: true, reason: 'consented', record: { vendorId: null, vendorConsent: null } }, 'no vendor id configured: purposes only');
  t.match(decide(noPurpose3, undefined), { allow: false, reason: 'no-consent' });
  t.match(decideConsent({ tcf: consented }, policy({ requiredPurposes: [3, 7] }), PULSE_VENDOR), { allow: false, reason: 'no-consent' }, 'the policy\'s required purposes');
  t.match(decideConsent({ tcf: otherVendorOnly }, policy({ vendorId: OTHER_VENDOR }), PULSE_VENDOR), { allow: true, record: { vendorId: OTHER_VENDOR } }, 'a tenant\'s own vendor id');
  const li = tcString({ purposes: [1, 3], legitimateInterests: [7], vendors: [PULSE_VENDOR], vendorLegitimateInterests: [PULSE_VENDOR] });
  t.match(decideConsent({ tcf: li }, policy({ requiredPurposes: [3, 7] }), PULSE_VENDOR), { allow: false }, 'legitimate interest is not consent');
});

void t.test('when GDPR applies, per policy', async (t) => {
  const when = policy();
  t.match(decideConsent(undefined, when, PULSE_VENDOR), { allow: true, reason: 'not-applicable', record: undefined }, 'nothing signalled');
  t.match(decideConsent({ gdprApplies: false, tcf: '' }, when, PULSE_VENDOR), { allow: true, reason: 'not-applicable' });
  t.match(decideConsent({ tcf: noPurpose3 }, when, PULSE_VENDOR), { allow: false }, 'a TC string without gdprApplies signals GDPR');
  t.match(decideConsent({ tcf: noPurpose3, gdprApplies: 0 }, when, PULSE_VENDOR), { allow: true, reason: 'not-applicable', record: { gdprApplies: false } }, 'explicitly not applicable (OpenRTB 0): recorded, not enforced');
  t.match(decideConsent({ gdprApplies: 1 }, when, PULSE_VENDOR), { allow: false, reason: 'missing' }, 'OpenRTB 1 without a string');
  t.match(decideConsent({ gdprApplies: 'yes' }, when, PULSE_VENDOR), { allow: false, reason: 'missing' }, 'an unreadable signal counts as GDPR');
  t.match(decideConsent({ gpp: 'DBABM~x' }, when, PULSE_VENDOR), { allow: true, reason: 'not-applicable' }, 'GPP alone is not evaluated');

  const always = policy({ gdprApplies: 'always' });
  t.match(decideConsent(undefined, always, PULSE_VENDOR), { allow: false, reason: 'missing' });
  t.match(decideConsent({ tcf: consented, gdprApplies: false }, always, PULSE_VENDOR), { allow: true, reason: 'consented', record: { gdprApplies: true } }, 'the tenant overrides the signal');

  const never = policy({ gdprApplies: 'never' });
  t.match(decideConsent({ tcf: noPurpose3, gdprApplies: true }, never, PULSE_VENDOR), { allow: true, reason: 'not-applicable', record: { purposes: [1, 4] } }, 'recorded, never enforced');
  t.match(decideConsent({ tcf: MALFORMED }, never, PULSE_VENDOR), { allow: true, reason: 'not-applicable', record: undefined });
});

void t.test('missing and malformed consent follow the policy, never throw', async (t) => {
  const malformed: unknown[] = [
    { tcf: MALFORMED }, { tcf: consented.slice(0, 20) }, { tcf: 42 }, { tcf: ['x'] }, 'a string', [1], 7,
    { tcf: 'BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA' }, { tcf: 'C'.repeat(10_000) }, { tcf: `${consented}\u0000` },
  ];
  for (const consent of malformed) {
    const label = JSON.stringify(consent).slice(0, 60);
    t.match(decideConsent(consent as never, policy({ gdprApplies: 'always' }), PULSE_VENDOR), { allow: false, reason: 'malformed', record: undefined }, `deny: ${label}`);
    t.match(decideConsent(consent as never, policy({ gdprApplies: 'always', malformed: 'allow' }), PULSE_VENDOR), { allow: true, reason: 'malformed-allowed', record: undefined }, `allow: ${label}`);
  }
  t.match(decideConsent({ tcf: MALFORMED }, policy(), PULSE_VENDOR), { allow: false, reason: 'malformed' }, 'when-signalled: a bad string still signals GDPR');
  for (const consent of [undefined, null, {}, { tcf: null }, { tcf: '' }]) {
    t.match(decideConsent(consent, policy({ gdprApplies: 'always' }), PULSE_VENDOR), { allow: false, reason: 'missing' }, `deny missing: ${JSON.stringify(consent)}`);
    t.match(decideConsent(consent, policy({ gdprApplies: 'always', missing: 'allow' }), PULSE_VENDOR), { allow: true, reason: 'missing-allowed' });
  }
  t.equal(decodeTcString('BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA'), undefined, 'a TCF v1 string is not v2');
});

void t.test('memoDecoder decodes each string once', async (t) => {
  let calls = 0;
  const decode = memoDecoder((s) => { calls++; return decodeTcString(s); });
  t.ok(decode(consented));
  t.ok(decode(consented));
  t.equal(decode(MALFORMED), undefined);
  t.equal(decode(MALFORMED), undefined);
  t.equal(calls, 2);
});

void t.test('PULSE_CONSENT_POLICY: tenants and "*", merged over the defaults; every problem reported', async (t) => {
  const ok = parseConsentPolicies(JSON.stringify({ '*': { gdprApplies: 'always', requiredPurposes: [4, 3, 3] }, 'acme-us': { gdprApplies: 'never' }, eu: { denied: 'anonymous', vendorId: 55 } }));
  if (!ok.ok) throw new Error(ok.problems.join('; '));
  t.same(ok.defaultPolicy, { gdprApplies: 'always', requiredPurposes: [3, 4], missing: 'deny', malformed: 'deny', denied: 'drop' });
  t.same(ok.tenants['acme-us'], { ...ok.defaultPolicy, gdprApplies: 'never' }, 'a tenant inherits the "*" policy');
  t.same(ok.tenants['eu'], { ...ok.defaultPolicy, denied: 'anonymous', vendorId: 55 });
  const settings: ConsentSettings = { vendorId: PULSE_VENDOR, defaultPolicy: ok.defaultPolicy, tenants: ok.tenants };
  t.equal(policyFor(settings, 'acme-us').gdprApplies, 'never');
  t.equal(policyFor(settings, 'unlisted'), ok.defaultPolicy);
  t.equal(policyFor(settings, 'constructor'), ok.defaultPolicy, 'no prototype keys');
  t.same(policyFor(DEFAULT_CONSENT_SETTINGS, 'x'), { gdprApplies: 'when-signalled', requiredPurposes: [3], missing: 'deny', malformed: 'deny', denied: 'drop' }, 'the built-in default');

  const bad = parseConsentPolicies(JSON.stringify({ 'Bad Tenant': {}, acme: { gdprApplies: 'sometimes', requiredPurposes: [0, 12], missing: 'maybe', extra: 1 } }));
  t.equal(bad.ok, false);
  const problems = bad.ok ? [] : bad.problems;
  t.ok(problems.length >= 5, problems.join('\n'));
  t.match(problems.join('\n'), /Bad Tenant.*keys are "\*" or tenants/);
  t.match(problems.join('\n'), /acme\.gdprApplies/);
  t.match(problems.join('\n'), /acme\.requiredPurposes\.0/);
  t.match(problems.join('\n'), /acme\.requiredPurposes\.1/);
  t.match(problems.join('\n'), /acme.*extra/);
  t.match(parseConsentPolicies('{'), { ok: false, problems: [/^not valid JSON/] });
  t.match(parseConsentPolicies('[]'), { ok: false });
});

void t.test('config: PULSE_TCF_VENDOR_ID, PULSE_CONSENT_POLICY (JSON or file), PULSE_DEFAULT_PHONE_REGION', async (t) => {
  const c = loadConfig({ PULSE_TCF_VENDOR_ID: '1234', PULSE_CONSENT_POLICY: '{"acme":{"gdprApplies":"always"}}', PULSE_DEFAULT_PHONE_REGION: 'fr' });
  t.equal(c.consent.vendorId, 1234);
  t.equal(c.consent.tenants['acme']?.gdprApplies, 'always');
  t.equal(c.normalize.phoneRegion, 'FR');
  const d = loadConfig({});
  t.same(d.consent, DEFAULT_CONSENT_SETTINGS);
  t.equal(d.normalize.phoneRegion, 'US');
  const dir = t.testdir({ 'policy.json': JSON.stringify({ '*': { gdprApplies: 'always' } }) });
  t.equal(loadConfig({ PULSE_CONSENT_POLICY: 'policy.json' }, dir).consent.defaultPolicy.gdprApplies, 'always', 'a path relative to the working directory');
  const problems = (env: NodeJS.ProcessEnv): string[] => {
    try {
      loadConfig(env, dir);
      return [];
    } catch (err) {
      return [...(err as ConfigError).problems];
    }
  };
  t.match(problems({ PULSE_TCF_VENDOR_ID: '0', PULSE_CONSENT_POLICY: '{"acme":{"missing":"x"}}', PULSE_DEFAULT_PHONE_REGION: 'XX' }),
    [/^PULSE_TCF_VENDOR_ID: must be an integer from 1 to 65535/, /^PULSE_CONSENT_POLICY: acme\.missing/, /^PULSE_DEFAULT_PHONE_REGION: not a region code/], 'every problem at once');
  t.match(problems({ PULSE_CONSENT_POLICY: 'no/such/file.json' }), [/^PULSE_CONSENT_POLICY: not a JSON object and not a readable file/]);
});

function event(input: object): PulseEvent {
  const r = normalizeEvent({ type: 'track', event: 'Purchase', userId: 'u1', ...input }, Date.UTC(2026, 0, 1));
  if (!r.ok) throw new Error(r.problem.reason);
  return r.event;
}

void t.test('consentGate: allowed events carry the record as $consent; denied ones are dropped or anonymized', async (t) => {
  const settings: ConsentSettings = { vendorId: PULSE_VENDOR, defaultPolicy: DEFAULT_CONSENT_POLICY, tenants: { analytics: { ...DEFAULT_CONSENT_POLICY, denied: 'anonymous' } } };
  const items = [
    { event: event({ messageId: 'yes', context: { consent: { tcf: consented } } }), n: 1 },
    { event: event({ messageId: 'no', context: { consent: { tcf: noPurpose3 } } }), n: 2 },
    { event: event({ messageId: 'none' }), n: 3 },
    { event: event({ messageId: 'bad', context: { consent: { tcf: MALFORMED } } }), n: 4 },
  ];
  const g = consentGate('acme', items, settings);
  t.same(g.allowed.map((a) => a.item.n), [1, 3]);
  t.match(g.allowed[0]?.profileEvent.traits['$consent'], { tcString: consented, purposes: [1, 3, 4], vendorConsent: true });
  t.equal(g.allowed[0]?.item.event.traits['$consent'], undefined, 'the event itself (for the warehouse) is unchanged');
  t.equal(g.allowed[1]?.profileEvent, items[2]?.event, 'no consent string, GDPR not signalled: the event as is');
  t.same(g.denied.map((d) => [d.item.n, d.reason, d.anonymous]), [[2, 'no-consent', undefined], [4, 'malformed', undefined]], 'default: dropped');
  t.match(g.denied[0]?.record, { purposes: [1, 4] }, 'the refusal is decoded');

  const a = consentGate('analytics', items, settings);
  t.same(a.denied.map((d) => d.anonymous?.messageId), ['no', 'bad'], 'denied: anonymous keeps a row');
});

void t.test('anonymize keeps how the event came, never who sent it', async (t) => {
  const e = event({
    messageId: 'm', anonymousId: 'a1',
    properties: { value: 9, email: 'x@example.com' },
    traits: { plan: 'pro' },
    context: {
      ip: '203.0.113.9', userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
      device: { type: 'ios', advertisingId: '6D92078A-8246-4BA4-AE5B-76104861E7DC', model: 'iPhone' },
      page: { path: '/cart', url: 'https://shop.example/cart?email=x@example.com', title: 'Cart' },
      consent: { tcf: noPurpose3 }, externalIds: [{ type: 'cookie', id: 'c1' }], locale: 'fr-FR', campaign: { source: 'news' },
    },
  });
  const x = anonymize(e);
  t.equal(x.userId, undefined);
  t.equal(x.anonymousId, undefined);
  t.same(x.identifiers, []);
  t.same(x.traits, {});
  t.same(x.properties, { value: 9 }, 'hashed PII removed');
  t.same(x.context, {
    channel: 'mobile', locale: 'fr-FR', campaign: { source: 'news' }, os: { name: 'iOS', version: '17.4' }, browser: { name: 'Mobile Safari', version: '17.4' },
    device: { type: 'ios', model: 'iPhone', vendor: 'Apple' }, page: { path: '/cart', title: 'Cart' },
  });
  t.equal(x.messageId, 'm');
  t.equal(x.event, 'Purchase');
  t.equal(x.timestamp, e.timestamp);
});
