// Original file: proto/pulse/v1/frequency.proto

import type { Identifier as _pulse_v1_Identifier, Identifier__Output as _pulse_v1_Identifier__Output } from '../../pulse/v1/Identifier.js';

export interface CheckCapsRequest {
  'identifiers'?: (_pulse_v1_Identifier)[];
  /**
   * Only caps on these campaigns / creatives; both empty: every cap of the tenant.
   */
  'campaignIds'?: (string)[];
  'creativeIds'?: (string)[];
  /**
   * The channel of the opportunity: caps bound to another channel are skipped. Empty: all caps.
   */
  'channel'?: (string);
}

export interface CheckCapsRequest__Output {
  'identifiers': (_pulse_v1_Identifier__Output)[];
  /**
   * Only caps on these campaigns / creatives; both empty: every cap of the tenant.
   */
  'campaignIds': (string)[];
  'creativeIds': (string)[];
  /**
   * The channel of the opportunity: caps bound to another channel are skipped. Empty: all caps.
   */
  'channel': (string);
}
