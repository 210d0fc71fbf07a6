// Original file: proto/pulse/v1/profile.proto

import type { Identifier as _pulse_v1_Identifier, Identifier__Output as _pulse_v1_Identifier__Output } from '../../pulse/v1/Identifier.js';
import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from '../../google/protobuf/Struct.js';

export interface UpdateProfileRequest {
  'identifiers'?: (_pulse_v1_Identifier)[];
  'traits'?: (_google_protobuf_Struct | null);
  /**
   * Where the values come from, for source-priority policies and trait history (e.g. "crm"); default "api".
   */
  'source'?: (string);
}

export interface UpdateProfileRequest__Output {
  'identifiers': (_pulse_v1_Identifier__Output)[];
  'traits': (_google_protobuf_Struct__Output | null);
  /**
   * Where the values come from, for source-priority policies and trait history (e.g. "crm"); default "api".
   */
  'source': (string);
}
