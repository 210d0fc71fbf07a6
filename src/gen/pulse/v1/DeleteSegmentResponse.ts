// Original file: proto/pulse/v1/segment.proto


export interface DeleteSegmentResponse {
  'deleted'?: (boolean);
}

export interface DeleteSegmentResponse__Output {
  'deleted': (boolean);
}
