// Original file: proto/pulse/v1/segment.proto


export interface DeleteSegmentRequest {
  'id'?: (string);
}

export interface DeleteSegmentRequest__Output {
  'id': (string);
}
