// Original file: proto/pulse/v1/segment.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp.js';
import type { BackfillStatus as _pulse_v1_BackfillStatus, BackfillStatus__Output as _pulse_v1_BackfillStatus__Output } from '../../pulse/v1/BackfillStatus.js';
import type { Long } from '@grpc/proto-loader';

export interface Segment {
  'id'?: (string);
  'name'?: (string);
  /**
   * The rule as a JSON string, e.g. {"all":[{"trait":"plan","op":"eq","value":"pro"},
   * {"event":"Purchase","op":"gte","count":2}]}.
   */
  'rule'?: (string);
  'createdAt'?: (_google_protobuf_Timestamp | null);
  /**
   * Starts at 1; each UpdateSegment adds one.
   */
  'version'?: (number | string | Long);
  /**
   * When this version was written.
   */
  'updatedAt'?: (_google_protobuf_Timestamp | null);
  /**
   * The latest backfill (absent before the first one was scheduled).
   */
  'backfill'?: (_pulse_v1_BackfillStatus | null);
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
  /**
   * Starts at 1; each UpdateSegment adds one.
   */
  'version': (string);
  /**
   * When this version was written.
   */
  'updatedAt': (_google_protobuf_Timestamp__Output | null);
  /**
   * The latest backfill (absent before the first one was scheduled).
   */
  'backfill': (_pulse_v1_BackfillStatus__Output | null);
}
