// Original file: proto/pulse/v1/ingest.proto

import type { EventResult as _pulse_v1_EventResult, EventResult__Output as _pulse_v1_EventResult__Output } from '../../pulse/v1/EventResult.js';
import type { Long } from '@grpc/proto-loader';

export interface SendResponse {
  /**
   * Send: one result per event, in order. SendStream: the refused events only.
   */
  'results'?: (_pulse_v1_EventResult)[];
  'accepted'?: (number | string | Long);
  'rejected'?: (number | string | Long);
}

export interface SendResponse__Output {
  /**
   * Send: one result per event, in order. SendStream: the refused events only.
   */
  'results': (_pulse_v1_EventResult__Output)[];
  'accepted': (string);
  'rejected': (string);
}
