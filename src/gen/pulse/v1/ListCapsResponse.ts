// Original file: proto/pulse/v1/frequency.proto

import type { FrequencyCap as _pulse_v1_FrequencyCap, FrequencyCap__Output as _pulse_v1_FrequencyCap__Output } from '../../pulse/v1/FrequencyCap.js';

export interface ListCapsResponse {
  'caps'?: (_pulse_v1_FrequencyCap)[];
}

export interface ListCapsResponse__Output {
  'caps': (_pulse_v1_FrequencyCap__Output)[];
}
