// Original file: proto/pulse/v1/ingest.proto


/**
 * Why an event was refused.
 */
export interface EventError {
  /**
   * INVALID_ARGUMENT (the event breaks the spec) or RESOURCE_EXHAUSTED (above 32 KB, field `size`).
   */
  'code'?: (string);
  /**
   * The offending field, e.g. `userId`, `event`, `context.externalIds.0`.
   */
  'field'?: (string);
  'message'?: (string);
}

/**
 * Why an event was refused.
 */
export interface EventError__Output {
  /**
   * INVALID_ARGUMENT (the event breaks the spec) or RESOURCE_EXHAUSTED (above 32 KB, field `size`).
   */
  'code': (string);
  /**
   * The offending field, e.g. `userId`, `event`, `context.externalIds.0`.
   */
  'field': (string);
  'message': (string);
}
