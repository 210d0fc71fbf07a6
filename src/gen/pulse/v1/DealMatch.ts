// Original file: proto/pulse/v1/inventory.proto

import type { ValueSource as _pulse_v1_ValueSource, ValueSource__Output as _pulse_v1_ValueSource__Output } from '../../pulse/v1/ValueSource.js';
import type { Long } from '@grpc/proto-loader';

export interface DealMatch {
  'dealId'?: (string);
  'floor'?: (number | string);
  'ecpm'?: (number | string);
  'valueSource'?: (_pulse_v1_ValueSource);
  'wins'?: (number | string | Long);
  /**
   * Distinct profiles that won on this deal (0 when unknown).
   */
  'reach'?: (number | string | Long);
  /**
   * Whether the eCPM is at or above the deal floor; those deals rank first.
   */
  'aboveFloor'?: (boolean);
}

export interface DealMatch__Output {
  'dealId': (string);
  'floor': (number);
  'ecpm': (number);
  'valueSource': (_pulse_v1_ValueSource__Output);
  'wins': (string);
  /**
   * Distinct profiles that won on this deal (0 when unknown).
   */
  'reach': (string);
  /**
   * Whether the eCPM is at or above the deal floor; those deals rank first.
   */
  'aboveFloor': (boolean);
}
