import { RestrictionType } from '@iabtcf/core';
import { PulseError } from '../errors.ts';
import { decodeTcString, type TcDecoder } from '../privacy/consent.ts';

/** Whether a partner may receive a profile's segments, and why (safe to log, never sent to partners). */
export interface PartnerDecision {
  readonly allowed: boolean;
  readonly reason: string;
}

/** The privacy signals of one request and the partner asking; see partnerMayReceive. */
export interface PartnerConsentInput {
  /** The TCF v2 TC string carried by the request (or stored on the profile). */
  readonly tcString?: string | undefined;
  /**
   * Whether GDPR applies. `undefined` (not signalled) counts as applying when a TC string is
   * present: a sender does not attach one for nothing.
   */
  readonly gdprApplies?: boolean | undefined;
  /** The partner's IAB TCF vendor id; without one the partner cannot be checked under GDPR. */
  readonly vendorId?: number | undefined;
  /** TCF purposes the partner needs consent for; default [3, 4] (build and use a personalised-ads profile). */
  readonly requiredPurposes?: readonly number[] | undefined;
  /** COPPA applies (regs.coppa = 1): no personalised data at all. */
  readonly coppa?: boolean | undefined;
  /** The CCPA / IAB US Privacy string (`1YNN`). */
  readonly usPrivacy?: string | undefined;
  /**
   * GPP sections that apply to the request and that Pulse does not evaluate (US national and
   * state sections, Canada's TCF...). Any of them refuses: Pulse cannot tell whether the user
   * opted out of sale, sharing or targeted advertising.
   */
  readonly gppUncheckedSections?: readonly number[] | undefined;
  /** TC string decoder (defaults to decodeTcString; pass a memoizing one on hot paths). */
  readonly decode?: TcDecoder | undefined;
}

/** Purposes 3 (create a personalised-ads profile) and 4 (use it to select ads). */
export const DEFAULT_REQUIRED_PURPOSES: readonly number[] = Object.freeze([3, 4]);

const US_PRIVACY = /^1[YN-][YN-][YN-]$/;

/**
 * Decides whether a partner may receive a profile's segments. Checked in order, the first
 * refusal wins:
 * 1. COPPA: never.
 * 2. A GPP section Pulse cannot evaluate applies: never (conservative).
 * 3. US Privacy: a malformed string, or the user opted out of sale (third character `Y`): never.
 * 4. GDPR (applies, or unsignalled with a TC string): the TC string must decode as TCF v2, the
 *    partner must have an IAB vendor id with vendor consent, and each required purpose needs
 *    the user's consent; a publisher restriction that forbids the purpose, or that limits the
 *    vendor to legitimate interest (which cannot ground purposes 3-6 under TCF 2.2 and is not
 *    consent for the others), refuses it.
 */
export function partnerMayReceive(input: PartnerConsentInput): PartnerDecision {
  const requiredPurposes = input.requiredPurposes ?? DEFAULT_REQUIRED_PURPOSES;
  for (const p of requiredPurposes) {
    if (!Number.isInteger(p) || p < 1 || p > 11) {
      throw new PulseError('INVALID_ARGUMENT', `requiredPurposes: TCF purposes are 1-11, got ${p}`, { field: 'requiredPurposes' });
    }
  }
  if (input.coppa === true) return deny('COPPA applies: no personalised data');
  const unchecked = input.gppUncheckedSections ?? [];
  if (unchecked.length > 0) return deny(`GPP section${unchecked.length > 1 ? 's' : ''} ${unchecked.join(', ')} appl${unchecked.length > 1 ? 'y' : 'ies'} and Pulse cannot evaluate ${unchecked.length > 1 ? 'them' : 'it'}`);
  if (input.usPrivacy !== undefined) {
    const usp = input.usPrivacy.toUpperCase();
    if (!US_PRIVACY.test(usp)) return deny(`malformed us_privacy string ${JSON.stringify(input.usPrivacy.slice(0, 16))}`);
    if (usp[2] === 'Y') return deny(`us_privacy ${usp}: the user opted out of sale`);
  }
  const tcString = input.tcString === '' ? undefined : input.tcString;
  const gdprApplies = input.gdprApplies ?? tcString !== undefined;
  if (!gdprApplies) return allow('GDPR does not apply');
  if (tcString === undefined) return deny('GDPR applies and there is no TC string');
  const model = (input.decode ?? decodeTcString)(tcString);
  if (model === undefined) return deny('GDPR applies and the TC string is not a valid TCF v2 string');
  const vendorId = input.vendorId;
  if (vendorId === undefined) return deny('GDPR applies and the partner has no IAB vendor id');
  if (!model.vendorConsents.has(vendorId)) return deny(`vendor ${vendorId} lacks vendor consent`);
  for (const p of requiredPurposes) {
    const restriction = model.publisherRestrictions.getRestrictionType(vendorId, p);
    if (restriction === RestrictionType.NOT_ALLOWED) return deny(`a publisher restriction forbids vendor ${vendorId} purpose ${p}`);
    if (restriction === RestrictionType.REQUIRE_LI) return deny(`a publisher restriction limits vendor ${vendorId} to legitimate interest for purpose ${p}, which needs consent`);
    if (!model.purposeConsents.has(p)) return deny(`vendor ${vendorId} lacks consent for purpose ${p}`);
  }
  return allow(requiredPurposes.length === 0 ? `vendor ${vendorId} has vendor consent` : `vendor ${vendorId} has consent for purpose${requiredPurposes.length > 1 ? 's' : ''} ${requiredPurposes.join(', ')}`);
}

function allow(reason: string): PartnerDecision {
  return { allowed: true, reason };
}

function deny(reason: string): PartnerDecision {
  return { allowed: false, reason };
}

/** GPP section ids Pulse evaluates: 2 (TCF EU v2, through its TC string) and 6 (US Privacy v1). */
export const GPP_EVALUATED_SECTIONS: readonly number[] = Object.freeze([2, 6]);

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const MAX_GPP_SECTIONS = 64;
const MAX_GPP_SECTION_ID = 1024;

/**
 * The sections of a GPP string by section id (`header~section~...`: the header lists the ids of
 * the sections that follow, in order), or undefined when the header does not decode or the
 * number of sections differs from it. Section contents are returned as they are, not decoded.
 */
export function decodeGppSections(gpp: string): Map<number, string> | undefined {
  if (gpp.length > 16384) return undefined;
  const [header, ...sections] = gpp.split('~');
  if (header === undefined || header.length === 0) return undefined;
  const ids = decodeGppHeader(header);
  if (ids?.length !== sections.length) return undefined;
  const out = new Map<number, string>();
  ids.forEach((id, i) => out.set(id, sections[i] ?? ''));
  return out;
}

/** Section ids of a GPP header: type 3, version 1, then a Fibonacci-coded range of ids. */
function decodeGppHeader(header: string): number[] | undefined {
  let bits = '';
  for (const ch of header) {
    const v = BASE64URL.indexOf(ch);
    if (v < 0) return undefined;
    bits += v.toString(2).padStart(6, '0');
  }
  const fixed = (from: number, length: number): number | undefined => (from + length <= bits.length ? parseInt(bits.slice(from, from + length), 2) : undefined);
  if (fixed(0, 6) !== 3 || fixed(6, 6) !== 1) return undefined;
  const count = fixed(12, 12);
  if (count === undefined || count > MAX_GPP_SECTIONS) return undefined;
  let at = 24;
  // Fibonacci coding (1, 2, 3, 5, 8...) ending at the first `11`: each number is an offset from
  // the previous id (a range's end from its start).
  const fibonacci = (): number | undefined => {
    let value = 0;
    let a = 1;
    let b = 2;
    for (let i = at; i < bits.length; i++) {
      if (bits[i] === '1') {
        if (i > at && bits[i - 1] === '1') {
          at = i + 1;
          return value;
        }
        value += a;
      }
      [a, b] = [b, a + b];
    }
    return undefined;
  };
  const ids: number[] = [];
  let last = 0;
  for (let n = 0; n < count; n++) {
    if (at >= bits.length) return undefined;
    const isRange = bits[at] === '1';
    at += 1;
    const start = fibonacci();
    if (start === undefined) return undefined;
    const first = last + start;
    let end = first;
    if (isRange) {
      const span = fibonacci();
      if (span === undefined) return undefined;
      end = first + span;
    }
    if (end > MAX_GPP_SECTION_ID) return undefined;
    for (let id = first; id <= end; id++) ids.push(id);
    last = end;
  }
  return ids;
}
