// Original file: proto/pulse/v1/targeting.proto

import type { Identifier as _pulse_v1_Identifier, Identifier__Output as _pulse_v1_Identifier__Output } from '../../pulse/v1/Identifier.js';

export interface AudienceLookup {
  /**
   * The caller's id of the lookup, echoed in its answer.
   */
  'id'?: (string);
  'identifiers'?: (_pulse_v1_Identifier)[];
  'tcString'?: (string);
  'gdpr'?: (number);
  '_gdpr'?: "gdpr";
}

export interface AudienceLookup__Output {
  /**
   * The caller's id of the lookup, echoed in its answer.
   */
  'id': (string);
  'identifiers': (_pulse_v1_Identifier__Output)[];
  'tcString': (string);
  'gdpr'?: (number);
  '_gdpr'?: "gdpr";
}
