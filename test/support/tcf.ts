import { GVL, PurposeRestriction, RestrictionType, TCModel, TCString } from '@iabtcf/core';

/** The IAB vendor id tests configure for Pulse. */
export const PULSE_VENDOR = 1234;
/** Another vendor on the test vendor list. */
export const OTHER_VENDOR = 99;

const PURPOSES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

/**
 * A small Global Vendor List built in memory: encoding a TC string needs one, and tests have no
 * network to fetch the IAB's.
 */
function vendorList(): GVL {
  const vendor = (id: number, purposes: number[], legIntPurposes: number[], flexiblePurposes: number[] = []) => ({
    id, name: `vendor ${id}`, purposes, legIntPurposes, flexiblePurposes, specialPurposes: [], features: [], specialFeatures: [],
    policyUrl: 'https://vendor.example/privacy', cookieMaxAgeSeconds: null, usesCookies: false, usesNonCookieAccess: false, deviceStorageDisclosureUrl: null,
  });
  return new GVL({
    gvlSpecificationVersion: 3, vendorListVersion: 50, tcfPolicyVersion: 5, lastUpdated: '2026-01-01T00:00:00Z',
    purposes: Object.fromEntries(PURPOSES.map((id) => [id, { id, name: `purpose ${id}`, description: '', illustrations: [] }])),
    specialPurposes: {}, features: {}, specialFeatures: {}, stacks: {}, dataCategories: {},
    vendors: { [PULSE_VENDOR]: vendor(PULSE_VENDOR, [1, 3, 4], [2, 7], [2, 7]), [OTHER_VENDOR]: vendor(OTHER_VENDOR, [1, 3], []) },
  } as unknown as ConstructorParameters<typeof GVL>[0]);
}

/** What a test TC string says. */
export interface TcOptions {
  readonly purposes?: readonly number[];
  readonly legitimateInterests?: readonly number[];
  readonly vendors?: readonly number[];
  readonly vendorLegitimateInterests?: readonly number[];
  /** Purposes a publisher restriction forbids to PULSE_VENDOR. */
  readonly notAllowed?: readonly number[];
  readonly cmpId?: number;
}

/** Encodes a real TCF v2.2 TC string with @iabtcf/core. */
export function tcString(o: TcOptions = {}): string {
  const model = new TCModel(vendorList());
  model.cmpId = o.cmpId ?? 7;
  model.cmpVersion = 2;
  model.publisherCountryCode = 'FR';
  model.purposeConsents.set([...(o.purposes ?? [])]);
  model.purposeLegitimateInterests.set([...(o.legitimateInterests ?? [])]);
  model.vendorConsents.set([...(o.vendors ?? [])]);
  model.vendorLegitimateInterests.set([...(o.vendorLegitimateInterests ?? [])]);
  for (const p of o.notAllowed ?? []) model.publisherRestrictions.add(PULSE_VENDOR, new PurposeRestriction(p, RestrictionType.NOT_ALLOWED));
  return TCString.encode(model);
}
