// Original file: proto/pulse/v1/targeting.proto


export interface EnrichBidRequestResponse {
  'openrtbJson'?: (Buffer | Uint8Array | string);
  /**
   * Whether segments were added.
   */
  'enriched'?: (boolean);
}

export interface EnrichBidRequestResponse__Output {
  'openrtbJson': (Buffer);
  /**
   * Whether segments were added.
   */
  'enriched': (boolean);
}
