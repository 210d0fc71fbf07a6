import { RestrictionType, TCString, type TCModel } from '@iabtcf/core';
import { z } from 'zod';
import { TENANT_PATTERN } from '../auth/keys.ts';
import type { Json, JsonObject } from '../json.ts';

/**
 * How a tenant's events are gated on consent at collection.
 * - `gdprApplies`: `always` (every event needs consent), `never` (consent is recorded, never
 *   enforced) or `when-signalled` (GDPR applies when `context.consent.gdprApplies` is true, or
 *   when it is absent and the event carries a TC string).
 * - `requiredPurposes`: TCF purposes that need consent (default [3]: create a personalised-ads
 *   profile). When a vendor id is configured, the vendor also needs consent, and no publisher
 *   restriction may forbid it a required purpose.
 * - `missing` / `malformed`: what an event without a TC string, or with one that does not decode,
 *   gets when GDPR applies.
 * - `denied`: what becomes of a denied event: `drop` (nothing stored) or `anonymous` (a ClickHouse
 *   row for aggregate analytics with no profile, identifiers, traits or identifying context).
 * - `vendorId`: overrides PULSE_TCF_VENDOR_ID for this tenant.
 */
export interface ConsentPolicy {
  readonly gdprApplies: 'always' | 'never' | 'when-signalled';
  readonly requiredPurposes: readonly number[];
  readonly missing: 'deny' | 'allow';
  readonly malformed: 'deny' | 'allow';
  readonly denied: 'drop' | 'anonymous';
  readonly vendorId?: number;
}

/**
 * The policy of unlisted tenants when none is configured: enforce whenever the event signals
 * GDPR, require Purpose 3, deny what is missing or malformed, and keep nothing of a denied event
 * but its decoded refusal, on the profile the person already has (ConsentStore).
 */
export const DEFAULT_CONSENT_POLICY: ConsentPolicy = Object.freeze({
  gdprApplies: 'when-signalled', requiredPurposes: Object.freeze([3]), missing: 'deny', malformed: 'deny', denied: 'drop',
});

/** Consent configuration of a deployment: Pulse's IAB vendor id and the policy per tenant. */
export interface ConsentSettings {
  /** Pulse's IAB TCF vendor id (PULSE_TCF_VENDOR_ID); without one only purpose consent is checked. */
  readonly vendorId: number | undefined;
  /** The policy of tenants not listed in `tenants`. */
  readonly defaultPolicy: ConsentPolicy;
  readonly tenants: Readonly<Record<string, ConsentPolicy>>;
}

/** Settings when nothing is configured. */
export const DEFAULT_CONSENT_SETTINGS: ConsentSettings = Object.freeze({ vendorId: undefined, defaultPolicy: DEFAULT_CONSENT_POLICY, tenants: Object.freeze({}) });

/** The policy that applies to `tenant`. */
export function policyFor(settings: ConsentSettings, tenant: string): ConsentPolicy {
  return Object.hasOwn(settings.tenants, tenant) ? settings.tenants[tenant] ?? settings.defaultPolicy : settings.defaultPolicy;
}

const partialPolicy = z.object({
  gdprApplies: z.enum(['always', 'never', 'when-signalled']).optional(),
  requiredPurposes: z.array(z.number().int().min(1).max(11)).max(11).optional(),
  missing: z.enum(['deny', 'allow']).optional(),
  malformed: z.enum(['deny', 'allow']).optional(),
  denied: z.enum(['drop', 'anonymous']).optional(),
  vendorId: z.number().int().min(1).max(65535).optional(),
}).strict();

/**
 * Parses PULSE_CONSENT_POLICY: a JSON object from tenant to a (partial) policy; the key `*`
 * holds the policy of unlisted tenants. Fields left out take the `*` policy's, then
 * DEFAULT_CONSENT_POLICY's. Reports every problem with its place.
 * Example: `{"*": {"gdprApplies": "always"}, "acme-us": {"gdprApplies": "never"}}`.
 */
export function parseConsentPolicies(json: string): { ok: true; defaultPolicy: ConsentPolicy; tenants: Record<string, ConsentPolicy> } | { ok: false; problems: string[] } {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (err) {
    return { ok: false, problems: [`not valid JSON: ${(err as Error).message}`] };
  }
  const result = z.record(z.string(), partialPolicy).safeParse(data);
  const problems = result.success ? [] : result.error.issues.map((i) => `${i.path.length > 0 ? i.path.map(String).join('.') : 'policy'}: ${i.message}`);
  if (data !== null && typeof data === 'object' && !Array.isArray(data)) {
    for (const key of Object.keys(data)) {
      if (key !== '*' && !TENANT_PATTERN.test(key)) problems.push(`${key}: keys are "*" or tenants matching ${TENANT_PATTERN.source}`);
    }
  }
  if (!result.success || problems.length > 0) return { ok: false, problems };
  const merge = (base: ConsentPolicy, p: z.infer<typeof partialPolicy>): ConsentPolicy => {
    const merged: ConsentPolicy = {
      gdprApplies: p.gdprApplies ?? base.gdprApplies,
      requiredPurposes: Object.freeze([...new Set(p.requiredPurposes ?? base.requiredPurposes)].sort((a, b) => a - b)),
      missing: p.missing ?? base.missing,
      malformed: p.malformed ?? base.malformed,
      denied: p.denied ?? base.denied,
    };
    const vendorId = p.vendorId ?? base.vendorId;
    return Object.freeze(vendorId === undefined ? merged : { ...merged, vendorId });
  };
  const defaultPolicy = merge(DEFAULT_CONSENT_POLICY, result.data['*'] ?? {});
  const tenants: Record<string, ConsentPolicy> = {};
  for (const [tenant, p] of Object.entries(result.data)) if (tenant !== '*') tenants[tenant] = merge(defaultPolicy, p);
  return { ok: true, defaultPolicy, tenants: Object.freeze(tenants) };
}

/**
 * What Pulse keeps of a TC string: the string itself (activation forwards it to partners) and
 * the signals decoded from it. JSON-compatible, so it is stored as the `$consent` trait.
 */
export interface ConsentRecord {
  readonly [key: string]: Json;
  readonly tcString: string;
  readonly gdprApplies: boolean;
  readonly cmpId: number;
  readonly cmpVersion: number;
  readonly policyVersion: number;
  readonly vendorListVersion: number;
  readonly publisherCountryCode: string;
  readonly isServiceSpecific: boolean;
  /** Purposes with consent. */
  readonly purposes: number[];
  /** Purposes with legitimate interest established. */
  readonly legitimateInterests: number[];
  readonly specialFeatures: number[];
  /** The vendor the record was evaluated for (null: none configured). */
  readonly vendorId: number | null;
  readonly vendorConsent: boolean | null;
  readonly vendorLegitimateInterest: boolean | null;
  /** When the CMP last updated the string (day precision, epoch ms). */
  readonly lastUpdated: number | null;
}

/** The outcome of the consent gate for one event. */
export type ConsentDecision =
  | { readonly allow: true; readonly reason: 'not-applicable' | 'consented' | 'missing-allowed' | 'malformed-allowed'; readonly record: ConsentRecord | undefined }
  | { readonly allow: false; readonly reason: 'no-consent' | 'missing' | 'malformed'; readonly record: ConsentRecord | undefined };

/** Decodes a TC string; undefined when it is not a TCF v2 string. */
export type TcDecoder = (tcString: string) => TCModel | undefined;

/** TCString.decode, returning undefined instead of throwing on a malformed string. */
export function decodeTcString(tcString: string): TCModel | undefined {
  if (tcString.length > 8192 || !/^[A-Za-z0-9_.-]+$/.test(tcString)) return undefined;
  try {
    const model = TCString.decode(tcString);
    return Number(model.version) === 2 ? model : undefined;
  } catch {
    return undefined;
  }
}

/** A decoder that remembers what it decoded: the events of one user carry the same string. */
export function memoDecoder(decode: TcDecoder = decodeTcString): TcDecoder {
  const seen = new Map<string, TCModel | undefined>();
  return (s) => {
    if (seen.has(s)) return seen.get(s);
    const m = decode(s);
    seen.set(s, m);
    return m;
  };
}

/** The compact record of a decoded TC string. */
export function consentRecord(tcString: string, model: TCModel, gdprApplies: boolean, vendorId: number | undefined): ConsentRecord {
  const ids = (v: { forEach(cb: (value: boolean, id: number) => void): void }): number[] => {
    const out: number[] = [];
    v.forEach((value, id) => { if (value) out.push(id); });
    return out;
  };
  const lastUpdated = model.lastUpdated instanceof Date ? model.lastUpdated.getTime() : Number.NaN;
  return {
    tcString, gdprApplies,
    cmpId: Number(model.cmpId), cmpVersion: Number(model.cmpVersion), policyVersion: Number(model.policyVersion),
    vendorListVersion: Number(model.vendorListVersion), publisherCountryCode: model.publisherCountryCode,
    isServiceSpecific: model.isServiceSpecific,
    purposes: ids(model.purposeConsents), legitimateInterests: ids(model.purposeLegitimateInterests),
    specialFeatures: ids(model.specialFeatureOptins),
    vendorId: vendorId ?? null,
    vendorConsent: vendorId === undefined ? null : model.vendorConsents.has(vendorId),
    vendorLegitimateInterest: vendorId === undefined ? null : model.vendorLegitimateInterests.has(vendorId),
    lastUpdated: Number.isFinite(lastUpdated) ? lastUpdated : null,
  };
}

/**
 * True when every required purpose is allowed: the user consented to the purpose and, with a
 * vendor id, to the vendor, and no publisher restriction forbids the vendor the purpose (a
 * restriction to legitimate interest needs the purpose's and the vendor's legitimate interest).
 */
export function purposesAllowed(model: TCModel, requiredPurposes: readonly number[], vendorId: number | undefined): boolean {
  return requiredPurposes.every((p) => {
    if (vendorId === undefined) return model.purposeConsents.has(p);
    const restriction = model.publisherRestrictions.getRestrictionType(vendorId, p);
    if (restriction === RestrictionType.NOT_ALLOWED) return false;
    if (restriction === RestrictionType.REQUIRE_LI) return model.purposeLegitimateInterests.has(p) && model.vendorLegitimateInterests.has(vendorId);
    return model.purposeConsents.has(p) && model.vendorConsents.has(vendorId);
  });
}

/**
 * Decides whether an event may build a profile, from its `context.consent` (`{tcf, gdprApplies?}`;
 * `gpp` and `purposes` are not evaluated) and the tenant's policy. Never throws: a consent
 * object of the wrong shape counts as malformed.
 */
export function decideConsent(consent: Json | undefined, policy: ConsentPolicy, globalVendorId: number | undefined, decode: TcDecoder = decodeTcString): ConsentDecision {
  const vendorId = policy.vendorId ?? globalVendorId;
  const signals = readSignals(consent);
  // An unreadable signal counts as one: the sender meant to say something about GDPR.
  const applies = policy.gdprApplies === 'always'
    || (policy.gdprApplies === 'when-signalled' && (signals.gdprApplies ?? (signals.tcf !== undefined || signals.malformed || signals.unreadableSignal)));
  const model = signals.tcf === undefined ? undefined : decode(signals.tcf);
  const record = model === undefined || signals.tcf === undefined ? undefined : consentRecord(signals.tcf, model, applies, vendorId);
  if (!applies) return { allow: true, reason: 'not-applicable', record };
  if (signals.malformed || (signals.tcf !== undefined && model === undefined)) {
    return policy.malformed === 'allow' ? { allow: true, reason: 'malformed-allowed', record: undefined } : { allow: false, reason: 'malformed', record: undefined };
  }
  if (model === undefined || record === undefined) {
    return policy.missing === 'allow' ? { allow: true, reason: 'missing-allowed', record: undefined } : { allow: false, reason: 'missing', record: undefined };
  }
  return purposesAllowed(model, policy.requiredPurposes, vendorId) ? { allow: true, reason: 'consented', record } : { allow: false, reason: 'no-consent', record };
}

interface Signals {
  readonly tcf: string | undefined;
  readonly gdprApplies: boolean | undefined;
  /** `context.consent` or its `tcf` has the wrong shape. */
  readonly malformed: boolean;
  /** A `gdprApplies` that is neither a boolean nor 0/1. */
  readonly unreadableSignal: boolean;
}

/** The consent signals of an event. */
function readSignals(consent: Json | undefined): Signals {
  const none: Signals = { tcf: undefined, gdprApplies: undefined, malformed: false, unreadableSignal: false };
  if (consent === undefined || consent === null) return none;
  if (typeof consent !== 'object' || Array.isArray(consent)) return { ...none, malformed: true };
  const c: JsonObject = consent;
  const raw = c['gdprApplies'];
  // The CMP API gives a boolean; OpenRTB's regs.gdpr gives 0 or 1.
  const gdprApplies = raw === true || raw === 1 ? true : raw === false || raw === 0 ? false : undefined;
  const unreadableSignal = raw !== undefined && raw !== null && gdprApplies === undefined;
  const tcf = c['tcf'];
  // The CMP API gives an empty string where GDPR does not apply.
  if (tcf === undefined || tcf === null || tcf === '') return { ...none, gdprApplies, unreadableSignal };
  if (typeof tcf !== 'string') return { ...none, gdprApplies, unreadableSignal, malformed: true };
  return { ...none, tcf, gdprApplies, unreadableSignal };
}
