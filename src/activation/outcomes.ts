import { CHANNELS } from '../collection/normalize.ts';
import { identifierProblem, type Identifier } from '../identity/identifier.ts';
import { ACTIVATION_ID_PATTERN } from './frequency.ts';

/** Kinds of auction outcome. */
export const OUTCOME_KINDS = ['bid', 'win', 'loss', 'impression', 'click'] as const;
export type OutcomeKind = (typeof OUTCOME_KINDS)[number];

/**
 * OpenRTB 2.6 loss reason codes (list "Loss Reason Codes"); 500 and above are exchange-specific,
 * communicated to bidders a priori.
 */
export const LOSS_REASONS: ReadonlyMap<number, string> = new Map([
  [0, 'Bid Won'],
  [1, 'Internal Error'],
  [2, 'Impression Opportunity Expired'],
  [3, 'Invalid Bid Response'],
  [4, 'Invalid Deal ID'],
  [5, 'Invalid Auction ID'],
  [6, 'Invalid (i.e., malformed) Advertiser Domain'],
  [7, 'Missing Markup'],
  [8, 'Missing Creative ID'],
  [9, 'Missing Bid Price'],
  [10, 'Missing Minimum Creative Approval Data'],
  [100, 'Bid was Below Auction Floor'],
  [101, 'Bid was Below Deal Floor'],
  [102, 'Lost to Higher Bid'],
  [103, 'Lost to a Bid for a PMP Deal'],
  [104, 'Buyer Seat Blocked'],
  [200, 'Creative Filtered - General; Reason Unknown'],
  [201, 'Creative Filtered - Pending Processing by Exchange'],
  [202, 'Creative Filtered - Disapproved by Exchange'],
  [203, 'Creative Filtered - Size Not Allowed'],
  [204, 'Creative Filtered - Incorrect Creative Format'],
  [205, 'Creative Filtered - Advertiser Exclusions'],
  [206, 'Creative Filtered - App Store ID Exclusions'],
  [207, 'Creative Filtered - Not Secure'],
  [208, 'Creative Filtered - Language Exclusions'],
  [209, 'Creative Filtered - Category Exclusions'],
  [210, 'Creative Filtered - Creative Attribute Exclusions'],
  [211, 'Creative Filtered - Ad Type Exclusions'],
  [212, 'Creative Filtered - Animation Too Long'],
  [213, 'Creative Filtered - Not Allowed in Deal'],
  [214, 'Creative Filtered - Invalid SKAdNetwork'],
  [215, 'Creative Filtered - App Bundle Exclusions'],
]);

/** First exchange-specific loss reason code. */
export const EXCHANGE_SPECIFIC_LOSS_REASON = 500;

/** How far ahead of the receiver's clock an outcome's timestamp may be (clock skew). */
export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;

/** Most outcomes one call may report. */
export const MAX_OUTCOMES_PER_CALL = 5000;

/** An outcome as decoded from the wire, before validation (empty strings for absent fields). */
export interface OutcomeInput {
  readonly kind: string;
  readonly id: string;
  readonly auctionId: string;
  readonly campaignId: string;
  readonly creativeId: string;
  readonly ssp: string;
  readonly placementId: string;
  readonly dealId: string;
  readonly identifiers: readonly Identifier[];
  readonly channel: string;
  /** Epoch ms, undefined when absent. */
  readonly timestamp: number | undefined;
  readonly price: number;
  readonly currency: string;
  readonly lossReason: number;
}

/** A validated outcome. */
export interface Outcome extends Omit<OutcomeInput, 'kind' | 'timestamp'> {
  readonly kind: OutcomeKind;
  readonly timestamp: number;
}

/** Why an outcome was refused: the field (relative to the outcome) and a message. */
export interface OutcomeProblem {
  readonly field: string;
  readonly message: string;
}

const ISO_4217 = /^[A-Z]{3}$/;

/** The outcome, validated, or the first problem found with the field it concerns. */
export function validateOutcome(o: OutcomeInput, now: number): { ok: true; outcome: Outcome } | { ok: false; problem: OutcomeProblem } {
  const fail = (field: string, message: string) => ({ ok: false as const, problem: { field, message } });
  if (!(OUTCOME_KINDS as readonly string[]).includes(o.kind)) return fail('kind', `must be one of ${OUTCOME_KINDS.join(', ')}`);
  const kind = o.kind as OutcomeKind;
  if (!ACTIVATION_ID_PATTERN.test(o.id)) return fail('id', 'required: 1-200 printable ASCII characters without spaces');
  const auctionRequired = kind === 'bid' || kind === 'win' || kind === 'loss';
  if (o.auctionId === '' ? auctionRequired : !ACTIVATION_ID_PATTERN.test(o.auctionId)) return fail('auction_id', `${auctionRequired ? 'required: ' : ''}1-200 printable ASCII characters without spaces`);
  if (!ACTIVATION_ID_PATTERN.test(o.campaignId)) return fail('campaign_id', 'required: 1-200 printable ASCII characters without spaces');
  for (const [field, v] of [['creative_id', o.creativeId], ['ssp', o.ssp], ['placement_id', o.placementId], ['deal_id', o.dealId]] as const) {
    if (v !== '' && !ACTIVATION_ID_PATTERN.test(v)) return fail(field, '1-200 printable ASCII characters without spaces');
  }
  if (o.identifiers.length > 32) return fail('identifiers', 'at most 32 identifiers');
  for (const [i, idf] of o.identifiers.entries()) {
    const problem = identifierProblem(idf);
    if (problem !== undefined) return fail(`identifiers[${i}]`, problem);
  }
  if (o.channel === '' ? kind === 'impression' : !(CHANNELS as readonly string[]).includes(o.channel)) {
    return fail('channel', `${kind === 'impression' ? 'required for impressions: ' : ''}one of ${CHANNELS.join(', ')}`);
  }
  if (o.timestamp === undefined || !Number.isFinite(o.timestamp) || o.timestamp <= 0) return fail('timestamp', 'required');
  if (o.timestamp > now + MAX_FUTURE_SKEW_MS) return fail('timestamp', 'more than 5 minutes in the future');
  if (!Number.isFinite(o.price) || o.price < 0) return fail('price', 'must be a finite number >= 0');
  if (kind === 'bid' && o.price <= 0) return fail('price', 'a bid needs its price (CPM > 0)');
  if ((kind === 'impression' || kind === 'click' || kind === 'loss') && o.price !== 0) return fail('price', `not used for ${kind}s: leave it 0`);
  if (o.currency !== '' && !ISO_4217.test(o.currency)) return fail('currency', 'ISO 4217 code, e.g. USD');
  if (kind === 'loss') {
    if (o.lossReason === 0) return fail('loss_reason', 'required for losses (0 "Bid Won" is not a loss: report a win)');
    if (!LOSS_REASONS.has(o.lossReason) && !(Number.isInteger(o.lossReason) && o.lossReason >= EXCHANGE_SPECIFIC_LOSS_REASON && o.lossReason <= 65535)) {
      return fail('loss_reason', `${o.lossReason} is not an OpenRTB 2.6 loss reason code (0-10, 100-104, 200-215, or exchange-specific 500+)`);
    }
  } else if (o.lossReason !== 0) {
    return fail('loss_reason', 'only for losses');
  }
  return { ok: true, outcome: { ...o, kind, timestamp: o.timestamp, currency: o.currency === '' ? 'USD' : o.currency } };
}

/** The identity of an outcome for de-duplication: ids are unique per kind within a tenant. */
export function outcomeKey(o: { kind: string; id: string }): string {
  return `${o.kind}:${o.id}`;
}
