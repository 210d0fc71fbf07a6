// Original file: proto/pulse/v1/profile.proto

import type { Identifier as _pulse_v1_Identifier, Identifier__Output as _pulse_v1_Identifier__Output } from '../../pulse/v1/Identifier.js';
import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from '../../google/protobuf/Struct.js';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp.js';
import type { Long } from '@grpc/proto-loader';

export interface Profile {
  'id'?: (string);
  'identifiers'?: (_pulse_v1_Identifier)[];
  /**
   * Traits as JSON-compatible values, resolved by the tenant's trait policies (default: last write
   * by event time wins), with the tenant's computed traits.
   */
  'traits'?: (_google_protobuf_Struct | null);
  'firstSeen'?: (_google_protobuf_Timestamp | null);
  'lastSeen'?: (_google_protobuf_Timestamp | null);
  /**
   * Number of events of each name (track events by their name; other types as `$identify`...).
   */
  'eventCounts'?: ({[key: string]: number | string | Long});
  /**
   * Increases with every applied event.
   */
  'version'?: (number | string | Long);
}

export interface Profile__Output {
  'id': (string);
  'identifiers': (_pulse_v1_Identifier__Output)[];
  /**
   * Traits as JSON-compatible values, resolved by the tenant's trait policies (default: last write
   * by event time wins), with the tenant's computed traits.
   */
  'traits': (_google_protobuf_Struct__Output | null);
  'firstSeen': (_google_protobuf_Timestamp__Output | null);
  'lastSeen': (_google_protobuf_Timestamp__Output | null);
  /**
   * Number of events of each name (track events by their name; other types as `$identify`...).
   */
  'eventCounts': ({[key: string]: string});
  /**
   * Increases with every applied event.
   */
  'version': (string);
}
