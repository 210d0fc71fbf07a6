// Original file: proto/pulse/v1/frequency.proto

import type { FrequencyCap as _pulse_v1_FrequencyCap, FrequencyCap__Output as _pulse_v1_FrequencyCap__Output } from '../../pulse/v1/FrequencyCap.js';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp.js';

export interface CapStatus {
  'cap'?: (_pulse_v1_FrequencyCap | null);
  /**
   * Impressions inside the window now.
   */
  'count'?: (number);
  'capped'?: (boolean);
  /**
   * When capped: the moment the count falls below the limit again.
   */
  'freesAt'?: (_google_protobuf_Timestamp | null);
}

export interface CapStatus__Output {
  'cap': (_pulse_v1_FrequencyCap__Output | null);
  /**
   * Impressions inside the window now.
   */
  'count': (number);
  'capped': (boolean);
  /**
   * When capped: the moment the count falls below the limit again.
   */
  'freesAt': (_google_protobuf_Timestamp__Output | null);
}
