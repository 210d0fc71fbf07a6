// Original file: proto/pulse/v1/segment.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp.js';
import type { Long } from '@grpc/proto-loader';

export interface BackfillStatus {
  /**
   * pending | running | done | failed
   */
  'state'?: (string);
  /**
   * The definition version being backfilled.
   */
  'version'?: (number | string | Long);
  'profilesDone'?: (number | string | Long);
  /**
   * Known after the profile scan finished; 0 while scanning.
   */
  'profilesTotal'?: (number | string | Long);
  'entered'?: (number | string | Long);
  'exited'?: (number | string | Long);
  'startedAt'?: (_google_protobuf_Timestamp | null);
  'finishedAt'?: (_google_protobuf_Timestamp | null);
  'error'?: (string);
}

export interface BackfillStatus__Output {
  /**
   * pending | running | done | failed
   */
  'state': (string);
  /**
   * The definition version being backfilled.
   */
  'version': (string);
  'profilesDone': (string);
  /**
   * Known after the profile scan finished; 0 while scanning.
   */
  'profilesTotal': (string);
  'entered': (string);
  'exited': (string);
  'startedAt': (_google_protobuf_Timestamp__Output | null);
  'finishedAt': (_google_protobuf_Timestamp__Output | null);
  'error': (string);
}
