// Original file: proto/pulse/v1/segment.proto

import type { Long } from '@grpc/proto-loader';

export interface EstimateSegmentResponse {
  /**
   * Estimated number of profiles in the segment, with a 95% confidence interval.
   */
  'estimate'?: (number | string | Long);
  'low'?: (number | string | Long);
  'high'?: (number | string | Long);
  /**
   * Profiles drawn, and of them how many matched.
   */
  'sampleSize'?: (number | string | Long);
  'sampleMatches'?: (number | string | Long);
  /**
   * Profiles in the tenant's profile index (the population sampled).
   */
  'population'?: (number | string | Long);
  /**
   * True when the whole population was evaluated (estimate is exact).
   */
  'exact'?: (boolean);
  /**
   * What the estimate cannot see, e.g. windowed event history not yet kept in Redis.
   */
  'note'?: (string);
}

export interface EstimateSegmentResponse__Output {
  /**
   * Estimated number of profiles in the segment, with a 95% confidence interval.
   */
  'estimate': (string);
  'low': (string);
  'high': (string);
  /**
   * Profiles drawn, and of them how many matched.
   */
  'sampleSize': (string);
  'sampleMatches': (string);
  /**
   * Profiles in the tenant's profile index (the population sampled).
   */
  'population': (string);
  /**
   * True when the whole population was evaluated (estimate is exact).
   */
  'exact': (boolean);
  /**
   * What the estimate cannot see, e.g. windowed event history not yet kept in Redis.
   */
  'note': (string);
}
