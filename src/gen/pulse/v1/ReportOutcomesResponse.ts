// Original file: proto/pulse/v1/outcomes.proto

import type { OutcomeResult as _pulse_v1_OutcomeResult, OutcomeResult__Output as _pulse_v1_OutcomeResult__Output } from '../../pulse/v1/OutcomeResult.js';

export interface ReportOutcomesResponse {
  /**
   * One per reported outcome, in request order.
   */
  'results'?: (_pulse_v1_OutcomeResult)[];
}

export interface ReportOutcomesResponse__Output {
  /**
   * One per reported outcome, in request order.
   */
  'results': (_pulse_v1_OutcomeResult__Output)[];
}
