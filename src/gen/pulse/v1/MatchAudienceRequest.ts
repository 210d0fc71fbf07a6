// Original file: proto/pulse/v1/inventory.proto


export interface MatchAudienceRequest {
  'placementId'?: (string);
  /**
   * Most segments to return; 0 means 20.
   */
  'limit'?: (number);
}

export interface MatchAudienceRequest__Output {
  'placementId': (string);
  /**
   * Most segments to return; 0 means 20.
   */
  'limit': (number);
}
