// Original file: proto/pulse/v1/frequency.proto

export const CapScope = {
  CAP_SCOPE_UNSPECIFIED: 'CAP_SCOPE_UNSPECIFIED',
  CAP_SCOPE_CAMPAIGN: 'CAP_SCOPE_CAMPAIGN',
  CAP_SCOPE_CREATIVE: 'CAP_SCOPE_CREATIVE',
} as const;

export type CapScope =
  | 'CAP_SCOPE_UNSPECIFIED'
  | 0
  | 'CAP_SCOPE_CAMPAIGN'
  | 1
  | 'CAP_SCOPE_CREATIVE'
  | 2

export type CapScope__Output = typeof CapScope[keyof typeof CapScope]
