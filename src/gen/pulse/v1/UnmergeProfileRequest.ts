// Original file: proto/pulse/v1/profile.proto

import type { Identifier as _pulse_v1_Identifier, Identifier__Output as _pulse_v1_Identifier__Output } from '../../pulse/v1/Identifier.js';

export interface UnmergeProfileRequest {
  /**
   * Any identifiers of the profile (the first one that has a profile is used).
   */
  'identifiers'?: (_pulse_v1_Identifier)[];
  /**
   * The identifiers to move to the new profile; at least one, and at least one must stay.
   */
  'split'?: (_pulse_v1_Identifier)[];
  /**
   * Go on when the warehouse holds fewer events than the profile counted (e.g. history deleted):
   * the missing events then count on neither side.
   */
  'allowPartialHistory'?: (boolean);
}

export interface UnmergeProfileRequest__Output {
  /**
   * Any identifiers of the profile (the first one that has a profile is used).
   */
  'identifiers': (_pulse_v1_Identifier__Output)[];
  /**
   * The identifiers to move to the new profile; at least one, and at least one must stay.
   */
  'split': (_pulse_v1_Identifier__Output)[];
  /**
   * Go on when the warehouse holds fewer events than the profile counted (e.g. history deleted):
   * the missing events then count on neither side.
   */
  'allowPartialHistory': (boolean);
}
