// Original file: proto/pulse/v1/targeting.proto

import type { AudienceAnswer as _pulse_v1_AudienceAnswer, AudienceAnswer__Output as _pulse_v1_AudienceAnswer__Output } from '../../pulse/v1/AudienceAnswer.js';

export interface BatchGetAudienceResponse {
  'answers'?: (_pulse_v1_AudienceAnswer)[];
}

export interface BatchGetAudienceResponse__Output {
  'answers': (_pulse_v1_AudienceAnswer__Output)[];
}
