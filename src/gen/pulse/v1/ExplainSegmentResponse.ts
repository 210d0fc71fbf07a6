// Original file: proto/pulse/v1/segment.proto


export interface ExplainSegmentResponse {
  'profileId'?: (string);
  'result'?: (boolean);
  /**
   * The rule annotated: each node's result, conditions with their text form and observed values.
   */
  'explanationJson'?: (string);
  /**
   * The same as indented text lines: `[x] count(Purchase) in last 7 days >= 2   (saw 3)`.
   */
  'explanationText'?: (string);
  /**
   * Whether the profile is currently a member (as stored).
   */
  'member'?: (boolean);
}

export interface ExplainSegmentResponse__Output {
  'profileId': (string);
  'result': (boolean);
  /**
   * The rule annotated: each node's result, conditions with their text form and observed values.
   */
  'explanationJson': (string);
  /**
   * The same as indented text lines: `[x] count(Purchase) in last 7 days >= 2   (saw 3)`.
   */
  'explanationText': (string);
  /**
   * Whether the profile is currently a member (as stored).
   */
  'member': (boolean);
}
