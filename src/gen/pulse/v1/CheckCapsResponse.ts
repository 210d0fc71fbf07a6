// Original file: proto/pulse/v1/frequency.proto

import type { CapStatus as _pulse_v1_CapStatus, CapStatus__Output as _pulse_v1_CapStatus__Output } from '../../pulse/v1/CapStatus.js';

export interface CheckCapsResponse {
  /**
   * Empty when no profile matches the identifiers.
   */
  'profileId'?: (string);
  'caps'?: (_pulse_v1_CapStatus)[];
  /**
   * Campaigns / creatives with at least one reached cap.
   */
  'cappedCampaigns'?: (string)[];
  'cappedCreatives'?: (string)[];
}

export interface CheckCapsResponse__Output {
  /**
   * Empty when no profile matches the identifiers.
   */
  'profileId': (string);
  'caps': (_pulse_v1_CapStatus__Output)[];
  /**
   * Campaigns / creatives with at least one reached cap.
   */
  'cappedCampaigns': (string)[];
  'cappedCreatives': (string)[];
}
