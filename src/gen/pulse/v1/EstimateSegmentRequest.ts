// Original file: proto/pulse/v1/segment.proto


export interface EstimateSegmentRequest {
  /**
   * A draft rule (JSON or text form); or `id` of a stored segment.
   */
  'rule'?: (string);
  'id'?: (string);
  /**
   * Profiles to sample (default 2000, at most 20000).
   */
  'sampleSize'?: (number);
}

export interface EstimateSegmentRequest__Output {
  /**
   * A draft rule (JSON or text form); or `id` of a stored segment.
   */
  'rule': (string);
  'id': (string);
  /**
   * Profiles to sample (default 2000, at most 20000).
   */
  'sampleSize': (number);
}
