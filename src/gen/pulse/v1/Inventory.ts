// Original file: proto/pulse/v1/inventory.proto

import type { InventoryKind as _pulse_v1_InventoryKind, InventoryKind__Output as _pulse_v1_InventoryKind__Output } from '../../pulse/v1/InventoryKind.js';
import type { Placement as _pulse_v1_Placement, Placement__Output as _pulse_v1_Placement__Output } from '../../pulse/v1/Placement.js';

export interface Inventory {
  /**
   * The site or app id, unique within the tenant.
   */
  'id'?: (string);
  'kind'?: (_pulse_v1_InventoryKind);
  /**
   * The site's domain (sites).
   */
  'domain'?: (string);
  /**
   * The app's bundle / store id (apps).
   */
  'bundle'?: (string);
  'name'?: (string);
  'placements'?: (_pulse_v1_Placement)[];
}

export interface Inventory__Output {
  /**
   * The site or app id, unique within the tenant.
   */
  'id': (string);
  'kind': (_pulse_v1_InventoryKind__Output);
  /**
   * The site's domain (sites).
   */
  'domain': (string);
  /**
   * The app's bundle / store id (apps).
   */
  'bundle': (string);
  'name': (string);
  'placements': (_pulse_v1_Placement__Output)[];
}
