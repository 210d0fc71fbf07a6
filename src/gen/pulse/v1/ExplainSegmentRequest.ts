// Original file: proto/pulse/v1/segment.proto

import type { Identifier as _pulse_v1_Identifier, Identifier__Output as _pulse_v1_Identifier__Output } from '../../pulse/v1/Identifier.js';

export interface ExplainSegmentRequest {
  /**
   * The profile: any of its identifiers, or its id.
   */
  'identifiers'?: (_pulse_v1_Identifier)[];
  'profileId'?: (string);
  /**
   * A stored segment, or a draft rule.
   */
  'id'?: (string);
  'rule'?: (string);
}

export interface ExplainSegmentRequest__Output {
  /**
   * The profile: any of its identifiers, or its id.
   */
  'identifiers': (_pulse_v1_Identifier__Output)[];
  'profileId': (string);
  /**
   * A stored segment, or a draft rule.
   */
  'id': (string);
  'rule': (string);
}
