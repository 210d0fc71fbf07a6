// Original file: proto/pulse/v1/inventory.proto

/**
 * Where a value (eCPM) came from.
 */
export const ValueSource = {
  VALUE_SOURCE_UNSPECIFIED: 'VALUE_SOURCE_UNSPECIFIED',
  /**
   * Wins of the segment's members on this placement (segments) or wins on this deal (deals).
   */
  VALUE_SOURCE_OBSERVED: 'VALUE_SOURCE_OBSERVED',
  /**
   * Wins on this placement, any audience (segments without wins of their own).
   */
  VALUE_SOURCE_PLACEMENT: 'VALUE_SOURCE_PLACEMENT',
  /**
   * No win observed: the floor (the deal's, or the placement's).
   */
  VALUE_SOURCE_FLOOR: 'VALUE_SOURCE_FLOOR',
} as const;

/**
 * Where a value (eCPM) came from.
 */
export type ValueSource =
  | 'VALUE_SOURCE_UNSPECIFIED'
  | 0
  /**
   * Wins of the segment's members on this placement (segments) or wins on this deal (deals).
   */
  | 'VALUE_SOURCE_OBSERVED'
  | 1
  /**
   * Wins on this placement, any audience (segments without wins of their own).
   */
  | 'VALUE_SOURCE_PLACEMENT'
  | 2
  /**
   * No win observed: the floor (the deal's, or the placement's).
   */
  | 'VALUE_SOURCE_FLOOR'
  | 3

/**
 * Where a value (eCPM) came from.
 */
export type ValueSource__Output = typeof ValueSource[keyof typeof ValueSource]
