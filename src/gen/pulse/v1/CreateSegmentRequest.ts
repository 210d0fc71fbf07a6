// Original file: proto/pulse/v1/segment.proto


export interface CreateSegmentRequest {
  /**
   * Optional: [a-z0-9_-]{1,64}; generated when empty.
   */
  'id'?: (string);
  'name'?: (string);
  'rule'?: (string);
}

export interface CreateSegmentRequest__Output {
  /**
   * Optional: [a-z0-9_-]{1,64}; generated when empty.
   */
  'id': (string);
  'name': (string);
  'rule': (string);
}
