// Original file: proto/pulse/v1/inventory.proto

import type { Format as _pulse_v1_Format, Format__Output as _pulse_v1_Format__Output } from '../../pulse/v1/Format.js';
import type { Deal as _pulse_v1_Deal, Deal__Output as _pulse_v1_Deal__Output } from '../../pulse/v1/Deal.js';

export interface Placement {
  /**
   * Unique within the tenant (the placement_id outcomes carry).
   */
  'id'?: (string);
  'formats'?: (_pulse_v1_Format)[];
  /**
   * Floor price, CPM (>= 0).
   */
  'floor'?: (number | string);
  /**
   * ISO 4217; empty means USD.
   */
  'currency'?: (string);
  'deals'?: (_pulse_v1_Deal)[];
}

export interface Placement__Output {
  /**
   * Unique within the tenant (the placement_id outcomes carry).
   */
  'id': (string);
  'formats': (_pulse_v1_Format__Output)[];
  /**
   * Floor price, CPM (>= 0).
   */
  'floor': (number);
  /**
   * ISO 4217; empty means USD.
   */
  'currency': (string);
  'deals': (_pulse_v1_Deal__Output)[];
}
