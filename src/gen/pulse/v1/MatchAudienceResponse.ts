// Original file: proto/pulse/v1/inventory.proto

import type { SegmentMatch as _pulse_v1_SegmentMatch, SegmentMatch__Output as _pulse_v1_SegmentMatch__Output } from '../../pulse/v1/SegmentMatch.js';
import type { DealMatch as _pulse_v1_DealMatch, DealMatch__Output as _pulse_v1_DealMatch__Output } from '../../pulse/v1/DealMatch.js';

export interface MatchAudienceResponse {
  'placementId'?: (string);
  'currency'?: (string);
  /**
   * By score, highest first (ties: larger reach, then id).
   */
  'segments'?: (_pulse_v1_SegmentMatch)[];
  /**
   * Deals clearing their floor first, then by eCPM, highest first (ties: id).
   */
  'deals'?: (_pulse_v1_DealMatch)[];
}

export interface MatchAudienceResponse__Output {
  'placementId': (string);
  'currency': (string);
  /**
   * By score, highest first (ties: larger reach, then id).
   */
  'segments': (_pulse_v1_SegmentMatch__Output)[];
  /**
   * Deals clearing their floor first, then by eCPM, highest first (ties: id).
   */
  'deals': (_pulse_v1_DealMatch__Output)[];
}
