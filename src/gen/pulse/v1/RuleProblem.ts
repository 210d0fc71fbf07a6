// Original file: proto/pulse/v1/segment.proto


export interface RuleProblem {
  /**
   * JSON path of the problem, e.g. `rule.all[1].count`.
   */
  'field'?: (string);
  /**
   * Names the place; text rules say `line L, column C`.
   */
  'message'?: (string);
  /**
   * The segment the problem is in (the draft is `id`, or `draft`).
   */
  'segment'?: (string);
}

export interface RuleProblem__Output {
  /**
   * JSON path of the problem, e.g. `rule.all[1].count`.
   */
  'field': (string);
  /**
   * Names the place; text rules say `line L, column C`.
   */
  'message': (string);
  /**
   * The segment the problem is in (the draft is `id`, or `draft`).
   */
  'segment': (string);
}
