// Original file: proto/pulse/v1/segment.proto

import type { RuleProblem as _pulse_v1_RuleProblem, RuleProblem__Output as _pulse_v1_RuleProblem__Output } from '../../pulse/v1/RuleProblem.js';

export interface ValidateRuleResponse {
  'valid'?: (boolean);
  'problems'?: (_pulse_v1_RuleProblem)[];
  /**
   * Canonical JSON and text forms (empty when the rule does not parse).
   */
  'json'?: (string);
  'text'?: (string);
}

export interface ValidateRuleResponse__Output {
  'valid': (boolean);
  'problems': (_pulse_v1_RuleProblem__Output)[];
  /**
   * Canonical JSON and text forms (empty when the rule does not parse).
   */
  'json': (string);
  'text': (string);
}
