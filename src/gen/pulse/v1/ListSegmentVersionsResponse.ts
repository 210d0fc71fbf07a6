// Original file: proto/pulse/v1/segment.proto

import type { Segment as _pulse_v1_Segment, Segment__Output as _pulse_v1_Segment__Output } from '../../pulse/v1/Segment.js';

export interface ListSegmentVersionsResponse {
  /**
   * Oldest first; the last one is current.
   */
  'versions'?: (_pulse_v1_Segment)[];
}

export interface ListSegmentVersionsResponse__Output {
  /**
   * Oldest first; the last one is current.
   */
  'versions': (_pulse_v1_Segment__Output)[];
}
