// Original file: proto/pulse/v1/inventory.proto


export interface Deal {
  /**
   * The OpenRTB pmp.deals[].id.
   */
  'id'?: (string);
  /**
   * Deal floor, CPM in the placement's currency.
   */
  'floor'?: (number | string);
}

export interface Deal__Output {
  /**
   * The OpenRTB pmp.deals[].id.
   */
  'id': (string);
  /**
   * Deal floor, CPM in the placement's currency.
   */
  'floor': (number);
}
