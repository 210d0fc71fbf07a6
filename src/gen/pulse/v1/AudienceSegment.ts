// Original file: proto/pulse/v1/targeting.proto


export interface AudienceSegment {
  'id'?: (string);
  'name'?: (string);
  /**
   * The segment's node in IAB Audience Taxonomy 1.1; empty when not mapped.
   */
  'taxonomyId'?: (string);
}

export interface AudienceSegment__Output {
  'id': (string);
  'name': (string);
  /**
   * The segment's node in IAB Audience Taxonomy 1.1; empty when not mapped.
   */
  'taxonomyId': (string);
}
