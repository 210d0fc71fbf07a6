// Original file: proto/pulse/v1/inventory.proto


export interface BannerFormat {
  'w'?: (number);
  'h'?: (number);
}

export interface BannerFormat__Output {
  'w': (number);
  'h': (number);
}
