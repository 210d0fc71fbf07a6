// Original file: proto/pulse/v1/targeting.proto

import type { Identifier as _pulse_v1_Identifier, Identifier__Output as _pulse_v1_Identifier__Output } from '../../pulse/v1/Identifier.js';

export interface GetAudienceRequest {
  'identifiers'?: (_pulse_v1_Identifier)[];
}

export interface GetAudienceRequest__Output {
  'identifiers': (_pulse_v1_Identifier__Output)[];
}
