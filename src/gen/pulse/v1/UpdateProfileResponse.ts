// Original file: proto/pulse/v1/profile.proto


export interface UpdateProfileResponse {
  /**
   * The messageId of the identify event that carries the update.
   */
  'messageId'?: (string);
}

export interface UpdateProfileResponse__Output {
  /**
   * The messageId of the identify event that carries the update.
   */
  'messageId': (string);
}
