// Original file: proto/pulse/v1/segment.proto


export interface GetSegmentRequest {
  'id'?: (string);
}

export interface GetSegmentRequest__Output {
  'id': (string);
}
