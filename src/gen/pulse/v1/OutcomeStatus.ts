// Original file: proto/pulse/v1/outcomes.proto

export const OutcomeStatus = {
  OUTCOME_STATUS_UNSPECIFIED: 'OUTCOME_STATUS_UNSPECIFIED',
  OUTCOME_STATUS_ACCEPTED: 'OUTCOME_STATUS_ACCEPTED',
  /**
   * Already recorded (a retry): not counted again.
   */
  OUTCOME_STATUS_DUPLICATE: 'OUTCOME_STATUS_DUPLICATE',
  OUTCOME_STATUS_INVALID: 'OUTCOME_STATUS_INVALID',
} as const;

export type OutcomeStatus =
  | 'OUTCOME_STATUS_UNSPECIFIED'
  | 0
  | 'OUTCOME_STATUS_ACCEPTED'
  | 1
  /**
   * Already recorded (a retry): not counted again.
   */
  | 'OUTCOME_STATUS_DUPLICATE'
  | 2
  | 'OUTCOME_STATUS_INVALID'
  | 3

export type OutcomeStatus__Output = typeof OutcomeStatus[keyof typeof OutcomeStatus]
