import { GVL, PurposeRestriction, RestrictionType, TCModel, TCString } from '@iabtcf/core';
import t from 'tap';
import { PulseError } from '../../src/errors.ts';
import { decodeTcString } from '../../src/privacy/consent.ts';
import { DEFAULT_REQUIRED_PURPOSES, decodeGppSections, partnerMayReceive } from '../../src/targeting/partner-consent.ts';

const DSP = 123;
const SSP = 456;
const UNLISTED = 789;

// An inline Global Vendor List: encoding needs one and tests have no network. Both vendors
// declare purposes 3 and 4 as flexible, so a publisher may restrict them to either legal basis.
const VENDOR_LIST = {
  gvlSpecificationVersion: 3, vendorListVersion: 100, tcfPolicyVersion: 5, lastUpdated: '2026-01-01T00:00:00Z',
  purposes: Object.fromEntries([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((id) => [id, { id, name: `purpose ${id}`, description: '', illustrations: [] }])),
  specialPurposes: {}, features: {}, specialFeatures: {}, stacks: {}, dataCategories: {},
  vendors: Object.fromEntries([DSP, SSP, UNLISTED].map((id) => [id, {
    id, name: `vendor ${id}`, purposes: [1, 3, 4], legIntPurposes: [2, 7], flexiblePurposes: [2, 3, 4, 7], specialPurposes: [], features: [], specialFeatures: [],
    policyUrl: 'https://vendor.example/privacy', cookieMaxAgeSeconds: null, usesCookies: false, usesNonCookieAccess: false, deviceStorageDisclosureUrl: null,
  }])),
};

interface Tc {
  purposes?: number[];
  legitimateInterests?: number[];
  vendors?: number[];
  vendorLegitimateInterests?: number[];
  restrictions?: [vendor: number, purpose: number, type: RestrictionType][];
}

function tc(o: Tc): string {
  const model = new TCModel(new GVL(VENDOR_LIST as unknown as ConstructorParameters<typeof GVL>[0]));
  model.cmpId = 300;
  model.cmpVersion = 1;
  model.publisherCountryCode = 'DE';
  model.purposeConsents.set(o.purposes ?? []);
  model.purposeLegitimateInterests.set(o.legitimateInterests ?? []);
  model.vendorConsents.set(o.vendors ?? []);
  model.vendorLegitimateInterests.set(o.vendorLegitimateInterests ?? []);
  for (const [vendor, purpose, type] of o.restrictions ?? []) model.publisherRestrictions.add(vendor, new PurposeRestriction(purpose, type));
  return TCString.encode(model);
}

const FULL = tc({ purposes: [1, 2, 3, 4, 7], vendors: [DSP, SSP] });

void t.test('the test TC strings say what they were built to say', async (t) => {
  const m = decodeTcString(tc({ purposes: [1, 3], vendors: [DSP], restrictions: [[SSP, 4, RestrictionType.NOT_ALLOWED]] }));
  t.ok(m);
  t.ok(m?.purposeConsents.has(3));
  t.notOk(m?.purposeConsents.has(4));
  t.ok(m?.vendorConsents.has(DSP));
  t.notOk(m?.vendorConsents.has(SSP));
  t.equal(m?.publisherRestrictions.getRestrictionType(SSP, 4), RestrictionType.NOT_ALLOWED);
});

void t.test('vendor consent and consent for purposes 3 and 4 allow', async (t) => {
  t.strictSame(DEFAULT_REQUIRED_PURPOSES, [3, 4]);
  t.strictSame(partnerMayReceive({ tcString: FULL, gdprApplies: true, vendorId: DSP }), { allowed: true, reason: 'vendor 123 has consent for purposes 3, 4' });
  t.strictSame(partnerMayReceive({ tcString: FULL, gdprApplies: true, vendorId: SSP }), { allowed: true, reason: 'vendor 456 has consent for purposes 3, 4' });
});

void t.test('each missing consent refuses, naming the vendor and the purpose', async (t) => {
  const no4 = tc({ purposes: [1, 2, 3], vendors: [DSP] });
  t.strictSame(partnerMayReceive({ tcString: no4, gdprApplies: true, vendorId: DSP }), { allowed: false, reason: 'vendor 123 lacks consent for purpose 4' });
  const no3 = tc({ purposes: [1, 4], vendors: [DSP] });
  t.strictSame(partnerMayReceive({ tcString: no3, gdprApplies: true, vendorId: DSP }), { allowed: false, reason: 'vendor 123 lacks consent for purpose 3' });
  t.strictSame(partnerMayReceive({ tcString: FULL, gdprApplies: true, vendorId: UNLISTED }), { allowed: false, reason: 'vendor 789 lacks vendor consent' });
});

void t.test('legitimate interest is not consent', async (t) => {
  const liOnly = tc({ purposes: [1], legitimateInterests: [2, 7], vendors: [], vendorLegitimateInterests: [DSP] });
  t.strictSame(partnerMayReceive({ tcString: liOnly, gdprApplies: true, vendorId: DSP }), { allowed: false, reason: 'vendor 123 lacks vendor consent' });
  const purposeLi = tc({ purposes: [1, 3], legitimateInterests: [2, 7], vendors: [DSP], vendorLegitimateInterests: [DSP] });
  t.strictSame(partnerMayReceive({ tcString: purposeLi, gdprApplies: true, vendorId: DSP, requiredPurposes: [3, 7] }), { allowed: false, reason: 'vendor 123 lacks consent for purpose 7' });
});

void t.test('publisher restrictions are honoured', async (t) => {
  const notAllowed = tc({ purposes: [1, 3, 4], vendors: [DSP, SSP], restrictions: [[SSP, 4, RestrictionType.NOT_ALLOWED]] });
  t.strictSame(partnerMayReceive({ tcString: notAllowed, gdprApplies: true, vendorId: SSP }), { allowed: false, reason: 'a publisher restriction forbids vendor 456 purpose 4' });
  t.strictSame(partnerMayReceive({ tcString: notAllowed, gdprApplies: true, vendorId: DSP }), { allowed: true, reason: 'vendor 123 has consent for purposes 3, 4' }, 'another vendor is not restricted');
  const requireLi = tc({ purposes: [1, 3, 4], vendors: [DSP], restrictions: [[DSP, 3, RestrictionType.REQUIRE_LI]] });
  t.equal(decodeTcString(requireLi)?.publisherRestrictions.getRestrictionType(DSP, 3), RestrictionType.REQUIRE_LI);
  t.strictSame(partnerMayReceive({ tcString: requireLi, gdprApplies: true, vendorId: DSP }), {
    allowed: false, reason: 'a publisher restriction limits vendor 123 to legitimate interest for purpose 3, which needs consent',
  });
  const requireConsent = tc({ purposes: [1, 3, 4], vendors: [DSP], restrictions: [[DSP, 4, RestrictionType.REQUIRE_CONSENT]] });
  t.equal(partnerMayReceive({ tcString: requireConsent, gdprApplies: true, vendorId: DSP }).allowed, true, 'requiring consent is what Pulse requires anyway');
});

void t.test('the required purposes are configurable', async (t) => {
  const s = tc({ purposes: [3, 4], vendors: [DSP] });
  t.strictSame(partnerMayReceive({ tcString: s, gdprApplies: true, vendorId: DSP, requiredPurposes: [1, 3] }), { allowed: false, reason: 'vendor 123 lacks consent for purpose 1' });
  t.strictSame(partnerMayReceive({ tcString: s, gdprApplies: true, vendorId: DSP, requiredPurposes: [3] }), { allowed: true, reason: 'vendor 123 has consent for purpose 3' });
  t.strictSame(partnerMayReceive({ tcString: s, gdprApplies: true, vendorId: DSP, requiredPurposes: [] }), { allowed: true, reason: 'vendor 123 has vendor consent' });
  for (const bad of [0, 12, 3.5, Number.NaN]) {
    t.throws(() => partnerMayReceive({ gdprApplies: false, requiredPurposes: [bad] }), { code: 'INVALID_ARGUMENT', field: 'requiredPurposes' }, String(bad));
  }
  t.throws(() => partnerMayReceive({ requiredPurposes: [12] }), PulseError);
});

void t.test('GDPR applicability', async (t) => {
  const denying = tc({ purposes: [1], vendors: [] });
  t.strictSame(partnerMayReceive({ tcString: denying, gdprApplies: false, vendorId: DSP }), { allowed: true, reason: 'GDPR does not apply' }, 'a TC string is ignored where GDPR does not apply');
  t.strictSame(partnerMayReceive({ tcString: 'garbage', gdprApplies: false, vendorId: DSP }), { allowed: true, reason: 'GDPR does not apply' });
  t.strictSame(partnerMayReceive({ tcString: denying, vendorId: DSP }), { allowed: false, reason: 'vendor 123 lacks vendor consent' }, 'unsignalled with a TC string: evaluated');
  t.strictSame(partnerMayReceive({ vendorId: DSP }), { allowed: true, reason: 'GDPR does not apply' }, 'unsignalled without a TC string');
  t.strictSame(partnerMayReceive({ tcString: '', vendorId: DSP }), { allowed: true, reason: 'GDPR does not apply' }, 'an empty string is no string');
  t.strictSame(partnerMayReceive({ gdprApplies: true, vendorId: DSP }), { allowed: false, reason: 'GDPR applies and there is no TC string' });
  t.strictSame(partnerMayReceive({ tcString: '', gdprApplies: true, vendorId: DSP }), { allowed: false, reason: 'GDPR applies and there is no TC string' });
  t.strictSame(partnerMayReceive({ tcString: FULL, gdprApplies: true }), { allowed: false, reason: 'GDPR applies and the partner has no IAB vendor id' });
});

void t.test('a malformed TC string refuses where GDPR applies', async (t) => {
  const malformed = 'GDPR applies and the TC string is not a valid TCF v2 string';
  // A TCF v1.1 consent string (the v1 spec's example): not v2.
  for (const s of ['not-a-tc-string', 'CP6ywkAP6y', 'BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA', `${FULL}!`, FULL.slice(0, 20)]) {
    t.strictSame(partnerMayReceive({ tcString: s, gdprApplies: true, vendorId: DSP }), { allowed: false, reason: malformed }, s);
  }
  t.strictSame(partnerMayReceive({ tcString: 'garbage', vendorId: DSP }), { allowed: false, reason: malformed }, 'unsignalled: the string counts');
});

void t.test('a decoder can be injected (memoizing on hot paths)', async (t) => {
  let calls = 0;
  const decode = (s: string) => {
    calls += 1;
    return decodeTcString(s);
  };
  t.equal(partnerMayReceive({ tcString: FULL, gdprApplies: true, vendorId: DSP, decode }).allowed, true);
  t.equal(calls, 1);
});

void t.test('COPPA refuses everything, first', async (t) => {
  t.strictSame(partnerMayReceive({ coppa: true, gdprApplies: false }), { allowed: false, reason: 'COPPA applies: no personalised data' });
  t.strictSame(partnerMayReceive({ coppa: true, tcString: FULL, gdprApplies: true, vendorId: DSP, usPrivacy: '1YNN' }), { allowed: false, reason: 'COPPA applies: no personalised data' });
  t.equal(partnerMayReceive({ coppa: false }).allowed, true);
});

void t.test('US Privacy: an opt-out of sale refuses, a malformed string refuses', async (t) => {
  for (const usp of ['1YYN', '1yyn', '1NYY', '1-Y-']) {
    t.strictSame(partnerMayReceive({ usPrivacy: usp }), { allowed: false, reason: `us_privacy ${usp.toUpperCase()}: the user opted out of sale` }, usp);
  }
  for (const usp of ['1YNN', '1NNN', '1---', '1ynn']) t.equal(partnerMayReceive({ usPrivacy: usp }).allowed, true, usp);
  for (const usp of ['', 'YYN', '2YNN', '1YNNN', '1XYN', '1 YN']) {
    t.strictSame(partnerMayReceive({ usPrivacy: usp }), { allowed: false, reason: `malformed us_privacy string ${JSON.stringify(usp)}` }, JSON.stringify(usp));
  }
  t.strictSame(partnerMayReceive({ usPrivacy: '1YYN', tcString: FULL, gdprApplies: true, vendorId: DSP }).allowed, false, 'the opt-out holds whatever the TC string says');
  t.strictSame(partnerMayReceive({ usPrivacy: '1YNN', tcString: FULL, gdprApplies: true, vendorId: UNLISTED }).reason, 'vendor 789 lacks vendor consent', 'both are checked');
});

void t.test('a GPP section Pulse cannot evaluate refuses', async (t) => {
  t.strictSame(partnerMayReceive({ gppUncheckedSections: [7] }), { allowed: false, reason: 'GPP section 7 applies and Pulse cannot evaluate it' });
  t.strictSame(partnerMayReceive({ gppUncheckedSections: [7, 8], usPrivacy: '1YYN' }), { allowed: false, reason: 'GPP sections 7, 8 apply and Pulse cannot evaluate them' }, 'before US Privacy');
  t.equal(partnerMayReceive({ gppUncheckedSections: [] }).allowed, true);
});

void t.test('GPP headers decode to their section ids', async (t) => {
  const ids = (gpp: string) => {
    const m = decodeGppSections(gpp);
    return m === undefined ? undefined : [...m.keys()];
  };
  // Examples from the GPP specification: TCF EU v2 alone, TCF EU v2 + US Privacy, US National.
  t.strictSame(ids('DBABMA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA'), [2]);
  t.strictSame(decodeGppSections('DBACNYA~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA~1YNN'), new Map([[2, 'CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA'], [6, '1YNN']]));
  t.strictSame(ids('DBABLA~BVQqAAAAAgA.QA'), [7]);
  // Hand-encoded headers (type 3, version 1, Fibonacci range), the reference encoder's vectors:
  // [2..6] = 1 group, range 011 (2) 1011 (+4); [2,5,6,7] = 0 011, 1 0011 (+3) 011 (+2);
  // [3,5,6,7,8] = 0 0011, 1 011 (+2) 0011 (+3).
  t.strictSame(ids('DBABuw~a~b~c~d~e'), [2, 3, 4, 5, 6]);
  t.strictSame(ids('DBACOb~a~b~c~d'), [2, 5, 6, 7]);
  t.strictSame(ids('DBACHZg~a~b~c~d~e'), [3, 5, 6, 7, 8]);
});

void t.test('malformed GPP strings decode to undefined', async (t) => {
  for (const gpp of ['', '~', 'DBABMA', 'DBABMA~a~b', 'ABABMA~a', 'DCABMA~a', 'DB*BMA~a', 'DBAB~a', 'DBAB', 'DBABA~a', `DBABMA~${'x'.repeat(20000)}`]) {
    t.equal(decodeGppSections(gpp), undefined, JSON.stringify(gpp.slice(0, 20)));
  }
});
