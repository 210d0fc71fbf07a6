// Original file: proto/pulse/v1/targeting.proto

import type { Identifier as _pulse_v1_Identifier, Identifier__Output as _pulse_v1_Identifier__Output } from '../../pulse/v1/Identifier.js';

export interface GetAudienceRequest {
  'identifiers'?: (_pulse_v1_Identifier)[];
  /**
   * The TCF v2 TC string of the request; when empty, the one stored on the profile is used.
   */
  'tcString'?: (string);
  /**
   * GDPR applies (1), does not (0); unset: applies when a TC string is present.
   */
  'gdpr'?: (number);
  '_gdpr'?: "gdpr";
}

export interface GetAudienceRequest__Output {
  'identifiers': (_pulse_v1_Identifier__Output)[];
  /**
   * The TCF v2 TC string of the request; when empty, the one stored on the profile is used.
   */
  'tcString': (string);
  /**
   * GDPR applies (1), does not (0); unset: applies when a TC string is present.
   */
  'gdpr'?: (number);
  '_gdpr'?: "gdpr";
}
