// Original file: proto/pulse/v1/inventory.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp.js';

export interface SspReportRequest {
  'from'?: (_google_protobuf_Timestamp | null);
  /**
   * Exclusive.
   */
  'to'?: (_google_protobuf_Timestamp | null);
}

export interface SspReportRequest__Output {
  'from': (_google_protobuf_Timestamp__Output | null);
  /**
   * Exclusive.
   */
  'to': (_google_protobuf_Timestamp__Output | null);
}
