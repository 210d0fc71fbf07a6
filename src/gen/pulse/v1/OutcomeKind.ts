// Original file: proto/pulse/v1/outcomes.proto

export const OutcomeKind = {
  OUTCOME_KIND_UNSPECIFIED: 'OUTCOME_KIND_UNSPECIFIED',
  OUTCOME_KIND_BID: 'OUTCOME_KIND_BID',
  OUTCOME_KIND_WIN: 'OUTCOME_KIND_WIN',
  OUTCOME_KIND_LOSS: 'OUTCOME_KIND_LOSS',
  OUTCOME_KIND_IMPRESSION: 'OUTCOME_KIND_IMPRESSION',
  OUTCOME_KIND_CLICK: 'OUTCOME_KIND_CLICK',
} as const;

export type OutcomeKind =
  | 'OUTCOME_KIND_UNSPECIFIED'
  | 0
  | 'OUTCOME_KIND_BID'
  | 1
  | 'OUTCOME_KIND_WIN'
  | 2
  | 'OUTCOME_KIND_LOSS'
  | 3
  | 'OUTCOME_KIND_IMPRESSION'
  | 4
  | 'OUTCOME_KIND_CLICK'
  | 5

export type OutcomeKind__Output = typeof OutcomeKind[keyof typeof OutcomeKind]
