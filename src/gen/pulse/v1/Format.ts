// Original file: proto/pulse/v1/inventory.proto

import type { BannerFormat as _pulse_v1_BannerFormat, BannerFormat__Output as _pulse_v1_BannerFormat__Output } from '../../pulse/v1/BannerFormat.js';

export interface Format {
  'banner'?: (_pulse_v1_BannerFormat | null);
  /**
   * Video placement (any size).
   */
  'video'?: (boolean);
  /**
   * Native placement.
   */
  'native'?: (boolean);
  'format'?: "banner"|"video"|"native";
}

export interface Format__Output {
  'banner'?: (_pulse_v1_BannerFormat__Output | null);
  /**
   * Video placement (any size).
   */
  'video'?: (boolean);
  /**
   * Native placement.
   */
  'native'?: (boolean);
  'format'?: "banner"|"video"|"native";
}
