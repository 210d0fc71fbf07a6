// Original file: proto/pulse/v1/outcomes.proto

import type { OutcomeStatus as _pulse_v1_OutcomeStatus, OutcomeStatus__Output as _pulse_v1_OutcomeStatus__Output } from '../../pulse/v1/OutcomeStatus.js';

export interface OutcomeResult {
  /**
   * Position in the request.
   */
  'index'?: (number);
  'status'?: (_pulse_v1_OutcomeStatus);
  /**
   * For INVALID: the offending field, e.g. `outcomes[3].loss_reason`, and why.
   */
  'field'?: (string);
  'message'?: (string);
}

export interface OutcomeResult__Output {
  /**
   * Position in the request.
   */
  'index': (number);
  'status': (_pulse_v1_OutcomeStatus__Output);
  /**
   * For INVALID: the offending field, e.g. `outcomes[3].loss_reason`, and why.
   */
  'field': (string);
  'message': (string);
}
