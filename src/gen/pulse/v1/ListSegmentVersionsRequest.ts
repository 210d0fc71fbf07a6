// Original file: proto/pulse/v1/segment.proto


export interface ListSegmentVersionsRequest {
  'id'?: (string);
}

export interface ListSegmentVersionsRequest__Output {
  'id': (string);
}
