// Original file: proto/pulse/v1/segment.proto


export interface UpdateSegmentRequest {
  'id'?: (string);
  /**
   * Empty keeps the current value.
   */
  'name'?: (string);
  'rule'?: (string);
}

export interface UpdateSegmentRequest__Output {
  'id': (string);
  /**
   * Empty keeps the current value.
   */
  'name': (string);
  'rule': (string);
}
