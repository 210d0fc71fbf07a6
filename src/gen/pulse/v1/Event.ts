// Original file: proto/pulse/v1/event.proto

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from '../../google/protobuf/Timestamp.js';
import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from '../../google/protobuf/Struct.js';

/**
 * One event of the Segment spec (https://segment.com/docs/connections/spec/), the protobuf form
 * of the event JSON Pulse takes on every path. Empty strings and absent messages mean "not set".
 * Pulse extensions live under `context`: `channel`, `externalIds` ([{type, id}]) and `consent`
 * ({tcf, gpp, purposes}).
 */
export interface Event {
  /**
   * track, identify, page, screen, group or alias.
   */
  'type'?: (string);
  /**
   * Unique per event: Pulse processes an event once per messageId (per tenant).
   */
  'messageId'?: (string);
  /**
   * Event time; absent: when Pulse received it.
   */
  'timestamp'?: (_google_protobuf_Timestamp | null);
  /**
   * At least one of user_id, anonymous_id or context.externalIds.
   */
  'userId'?: (string);
  'anonymousId'?: (string);
  /**
   * The track event's name (required for track).
   */
  'event'?: (string);
  /**
   * The page or screen name.
   */
  'name'?: (string);
  'properties'?: (_google_protobuf_Struct | null);
  'traits'?: (_google_protobuf_Struct | null);
  'context'?: (_google_protobuf_Struct | null);
  /**
   * alias: the identifier being merged into user_id.
   */
  'previousId'?: (string);
  /**
   * group: the group (account) the user belongs to.
   */
  'groupId'?: (string);
}

/**
 * One event of the Segment spec (https://segment.com/docs/connections/spec/), the protobuf form
 * of the event JSON Pulse takes on every path. Empty strings and absent messages mean "not set".
 * Pulse extensions live under `context`: `channel`, `externalIds` ([{type, id}]) and `consent`
 * ({tcf, gpp, purposes}).
 */
export interface Event__Output {
  /**
   * track, identify, page, screen, group or alias.
   */
  'type': (string);
  /**
   * Unique per event: Pulse processes an event once per messageId (per tenant).
   */
  'messageId': (string);
  /**
   * Event time; absent: when Pulse received it.
   */
  'timestamp': (_google_protobuf_Timestamp__Output | null);
  /**
   * At least one of user_id, anonymous_id or context.externalIds.
   */
  'userId': (string);
  'anonymousId': (string);
  /**
   * The track event's name (required for track).
   */
  'event': (string);
  /**
   * The page or screen name.
   */
  'name': (string);
  'properties': (_google_protobuf_Struct__Output | null);
  'traits': (_google_protobuf_Struct__Output | null);
  'context': (_google_protobuf_Struct__Output | null);
  /**
   * alias: the identifier being merged into user_id.
   */
  'previousId': (string);
  /**
   * group: the group (account) the user belongs to.
   */
  'groupId': (string);
}
