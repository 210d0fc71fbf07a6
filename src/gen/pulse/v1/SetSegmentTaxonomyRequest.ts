// Original file: proto/pulse/v1/targeting.proto


export interface SetSegmentTaxonomyRequest {
  'segmentId'?: (string);
  'taxonomyId'?: (string);
}

export interface SetSegmentTaxonomyRequest__Output {
  'segmentId': (string);
  'taxonomyId': (string);
}
