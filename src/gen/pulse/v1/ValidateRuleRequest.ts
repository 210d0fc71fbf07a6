// Original file: proto/pulse/v1/segment.proto


export interface ValidateRuleRequest {
  /**
   * JSON (starts with `{`) or the text form.
   */
  'rule'?: (string);
  /**
   * When set, the draft replaces this stored segment (so a self-reference counts as a cycle).
   */
  'id'?: (string);
}

export interface ValidateRuleRequest__Output {
  /**
   * JSON (starts with `{`) or the text form.
   */
  'rule': (string);
  /**
   * When set, the draft replaces this stored segment (so a self-reference counts as a cycle).
   */
  'id': (string);
}
