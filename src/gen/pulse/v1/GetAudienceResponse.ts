// Original file: proto/pulse/v1/targeting.proto

import type { AudienceSegment as _pulse_v1_AudienceSegment, AudienceSegment__Output as _pulse_v1_AudienceSegment__Output } from '../../pulse/v1/AudienceSegment.js';

export interface GetAudienceResponse {
  /**
   * Empty when no profile matches (or nothing may be returned to the calling partner).
   */
  'profileId'?: (string);
  'segments'?: (_pulse_v1_AudienceSegment)[];
}

export interface GetAudienceResponse__Output {
  /**
   * Empty when no profile matches (or nothing may be returned to the calling partner).
   */
  'profileId': (string);
  'segments': (_pulse_v1_AudienceSegment__Output)[];
}
