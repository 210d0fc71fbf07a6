// Original file: proto/pulse/v1/frequency.proto


export interface DeleteCapResponse {
  'deleted'?: (boolean);
}

export interface DeleteCapResponse__Output {
  'deleted': (boolean);
}
