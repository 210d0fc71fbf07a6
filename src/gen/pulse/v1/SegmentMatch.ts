// Original file: proto/pulse/v1/inventory.proto

import type { ValueSource as _pulse_v1_ValueSource, ValueSource__Output as _pulse_v1_ValueSource__Output } from '../../pulse/v1/ValueSource.js';
import type { Long } from '@grpc/proto-loader';

export interface SegmentMatch {
  'segmentId'?: (string);
  'name'?: (string);
  /**
   * Members now (SCARD of the segment's member set).
   */
  'reach'?: (number | string | Long);
  /**
   * Estimated CPM, in the placement's currency.
   */
  'ecpm'?: (number | string);
  'valueSource'?: (_pulse_v1_ValueSource);
  /**
   * Wins the observed value is based on.
   */
  'wins'?: (number | string | Long);
  /**
   * reach × ecpm / 1000: the value of showing the placement once to every member.
   */
  'score'?: (number | string);
}

export interface SegmentMatch__Output {
  'segmentId': (string);
  'name': (string);
  /**
   * Members now (SCARD of the segment's member set).
   */
  'reach': (string);
  /**
   * Estimated CPM, in the placement's currency.
   */
  'ecpm': (number);
  'valueSource': (_pulse_v1_ValueSource__Output);
  /**
   * Wins the observed value is based on.
   */
  'wins': (string);
  /**
   * reach × ecpm / 1000: the value of showing the placement once to every member.
   */
  'score': (number);
}
