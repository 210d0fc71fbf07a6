// Original file: proto/pulse/v1/inventory.proto

export const InventoryKind = {
  INVENTORY_KIND_UNSPECIFIED: 'INVENTORY_KIND_UNSPECIFIED',
  INVENTORY_KIND_SITE: 'INVENTORY_KIND_SITE',
  INVENTORY_KIND_APP: 'INVENTORY_KIND_APP',
} as const;

export type InventoryKind =
  | 'INVENTORY_KIND_UNSPECIFIED'
  | 0
  | 'INVENTORY_KIND_SITE'
  | 1
  | 'INVENTORY_KIND_APP'
  | 2

export type InventoryKind__Output = typeof InventoryKind[keyof typeof InventoryKind]
