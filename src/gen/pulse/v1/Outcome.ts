// Original file: proto/pulse/v1/outcomes.proto

import type { OutcomeKind as _pulse_v1_OutcomeKind, OutcomeKind__Output as _pulse_v1_OutcomeKind__Output } from '../../pulse/v1/OutcomeKind.js';
import type { Identifier as _pulse_v1_Identifier, Identifier__Output as _pulse_v1_Identifier__Output } from '../../pulse/v1/Identifier.js';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp.js';

export interface Outcome {
  'kind'?: (_pulse_v1_OutcomeKind);
  /**
   * The bid id (bid, win, loss), impression id or click id: unique per kind within the tenant.
   */
  'id'?: (string);
  /**
   * The OpenRTB BidRequest.id; required for bids, wins and losses.
   */
  'auctionId'?: (string);
  'campaignId'?: (string);
  'creativeId'?: (string);
  /**
   * The SSP or exchange the auction ran on.
   */
  'ssp'?: (string);
  'placementId'?: (string);
  'dealId'?: (string);
  /**
   * Optional: the person, resolved to a Pulse profile (identifiers themselves are not stored).
   */
  'identifiers'?: (_pulse_v1_Identifier)[];
  /**
   * web, mobile, email, social, ctv, offline or partner; required for impressions.
   */
  'channel'?: (string);
  'timestamp'?: (_google_protobuf_Timestamp | null);
  /**
   * CPM as in OpenRTB: the bid price (bid), the clearing price (win).
   */
  'price'?: (number | string);
  /**
   * ISO 4217; empty means USD (the OpenRTB default).
   */
  'currency'?: (string);
  /**
   * OpenRTB 2.6 loss reason code; required for losses (0 "Bid Won" is not a loss).
   */
  'lossReason'?: (number);
}

export interface Outcome__Output {
  'kind': (_pulse_v1_OutcomeKind__Output);
  /**
   * The bid id (bid, win, loss), impression id or click id: unique per kind within the tenant.
   */
  'id': (string);
  /**
   * The OpenRTB BidRequest.id; required for bids, wins and losses.
   */
  'auctionId': (string);
  'campaignId': (string);
  'creativeId': (string);
  /**
   * The SSP or exchange the auction ran on.
   */
  'ssp': (string);
  'placementId': (string);
  'dealId': (string);
  /**
   * Optional: the person, resolved to a Pulse profile (identifiers themselves are not stored).
   */
  'identifiers': (_pulse_v1_Identifier__Output)[];
  /**
   * web, mobile, email, social, ctv, offline or partner; required for impressions.
   */
  'channel': (string);
  'timestamp': (_google_protobuf_Timestamp__Output | null);
  /**
   * CPM as in OpenRTB: the bid price (bid), the clearing price (win).
   */
  'price': (number);
  /**
   * ISO 4217; empty means USD (the OpenRTB default).
   */
  'currency': (string);
  /**
   * OpenRTB 2.6 loss reason code; required for losses (0 "Bid Won" is not a loss).
   */
  'lossReason': (number);
}
