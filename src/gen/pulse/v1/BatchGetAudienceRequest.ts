// Original file: proto/pulse/v1/targeting.proto

import type { AudienceLookup as _pulse_v1_AudienceLookup, AudienceLookup__Output as _pulse_v1_AudienceLookup__Output } from '../../pulse/v1/AudienceLookup.js';

export interface BatchGetAudienceRequest {
  'lookups'?: (_pulse_v1_AudienceLookup)[];
}

export interface BatchGetAudienceRequest__Output {
  'lookups': (_pulse_v1_AudienceLookup__Output)[];
}
