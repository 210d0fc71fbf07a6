// Original file: proto/pulse/v1/targeting.proto


export interface EnrichBidRequestRequest {
  'openrtbJson'?: (Buffer | Uint8Array | string);
}

export interface EnrichBidRequestRequest__Output {
  'openrtbJson': (Buffer);
}
