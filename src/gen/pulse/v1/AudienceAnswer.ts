// Original file: proto/pulse/v1/targeting.proto

import type { AudienceSegment as _pulse_v1_AudienceSegment, AudienceSegment__Output as _pulse_v1_AudienceSegment__Output } from '../../pulse/v1/AudienceSegment.js';

export interface AudienceAnswer {
  'id'?: (string);
  'profileId'?: (string);
  'segments'?: (_pulse_v1_AudienceSegment)[];
  /**
   * Set when the lookup was invalid (it names the field); the answer is then empty.
   */
  'error'?: (string);
}

export interface AudienceAnswer__Output {
  'id': (string);
  'profileId': (string);
  'segments': (_pulse_v1_AudienceSegment__Output)[];
  /**
   * Set when the lookup was invalid (it names the field); the answer is then empty.
   */
  'error': (string);
}
