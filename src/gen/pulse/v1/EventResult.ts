// Original file: proto/pulse/v1/ingest.proto

import type { EventError as _pulse_v1_EventError, EventError__Output as _pulse_v1_EventError__Output } from '../../pulse/v1/EventError.js';
import type { Long } from '@grpc/proto-loader';

export interface EventResult {
  /**
   * Position of the event in the request (in SendStream: across the whole stream).
   */
  'index'?: (number | string | Long);
  'accepted'?: (boolean);
  /**
   * Set when the event was refused.
   */
  'error'?: (_pulse_v1_EventError | null);
}

export interface EventResult__Output {
  /**
   * Position of the event in the request (in SendStream: across the whole stream).
   */
  'index': (string);
  'accepted': (boolean);
  /**
   * Set when the event was refused.
   */
  'error': (_pulse_v1_EventError__Output | null);
}
