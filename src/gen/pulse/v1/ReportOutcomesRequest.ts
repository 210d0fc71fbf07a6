// Original file: proto/pulse/v1/outcomes.proto

import type { Outcome as _pulse_v1_Outcome, Outcome__Output as _pulse_v1_Outcome__Output } from '../../pulse/v1/Outcome.js';

export interface ReportOutcomesRequest {
  'outcomes'?: (_pulse_v1_Outcome)[];
}

export interface ReportOutcomesRequest__Output {
  'outcomes': (_pulse_v1_Outcome__Output)[];
}
