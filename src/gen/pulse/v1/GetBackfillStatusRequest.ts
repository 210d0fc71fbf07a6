// Original file: proto/pulse/v1/segment.proto


export interface GetBackfillStatusRequest {
  'id'?: (string);
}

export interface GetBackfillStatusRequest__Output {
  'id': (string);
}
