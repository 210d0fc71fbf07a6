// Original file: proto/pulse/v1/profile.proto


export interface UnmergeSegmentChange {
  'profileId'?: (string);
  'segmentId'?: (string);
  /**
   * "enter" or "exit".
   */
  'kind'?: (string);
}

export interface UnmergeSegmentChange__Output {
  'profileId': (string);
  'segmentId': (string);
  /**
   * "enter" or "exit".
   */
  'kind': (string);
}
