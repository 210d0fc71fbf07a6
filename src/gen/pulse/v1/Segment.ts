// Original file: proto/pulse/v1/segment.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp.js';

export interface Segment {
  'id'?: (string);
  'name'?: (string);
  /**
   * The rule as a JSON string, e.g. {"all":[{"trait":"plan","op":"eq","value":"pro"},
   * {"event":"Purchase","op":"gte","count":2}]}.
   */
  'rule'?: (string);
  'createdAt'?: (_google_protobuf_Timestamp | null);
}

export interface Segment__Output {
  'id': (string);
  'name': (string);
  /**
   * The rule as a JSON string, e.g. {"all":[{"trait":"plan","op":"eq","value":"pro"},
   * {"event":"Purchase","op":"gte","count":2}]}.
   */
  'rule': (string);
  'createdAt': (_google_protobuf_Timestamp__Output | null);
}
