// Original file: proto/pulse/v1/targeting.proto


export interface SetSharingRequest {
  'partner'?: (string);
  'all'?: (boolean);
  /**
   * Replaces the partner's list; empty with all = false shares nothing.
   */
  'segmentIds'?: (string)[];
}

export interface SetSharingRequest__Output {
  'partner': (string);
  'all': (boolean);
  /**
   * Replaces the partner's list; empty with all = false shares nothing.
   */
  'segmentIds': (string)[];
}
