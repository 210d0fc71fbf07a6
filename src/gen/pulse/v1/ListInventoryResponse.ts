// Original file: proto/pulse/v1/inventory.proto

import type { Inventory as _pulse_v1_Inventory, Inventory__Output as _pulse_v1_Inventory__Output } from '../../pulse/v1/Inventory.js';

export interface ListInventoryResponse {
  'inventory'?: (_pulse_v1_Inventory)[];
}

export interface ListInventoryResponse__Output {
  'inventory': (_pulse_v1_Inventory__Output)[];
}
