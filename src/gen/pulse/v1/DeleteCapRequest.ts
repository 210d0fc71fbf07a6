// Original file: proto/pulse/v1/frequency.proto


export interface DeleteCapRequest {
  'id'?: (string);
}

export interface DeleteCapRequest__Output {
  'id': (string);
}
