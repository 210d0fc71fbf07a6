// Original file: proto/pulse/v1/frequency.proto

import type { CapScope as _pulse_v1_CapScope, CapScope__Output as _pulse_v1_CapScope__Output } from '../../pulse/v1/CapScope.js';
import type { Long } from '@grpc/proto-loader';

export interface FrequencyCap {
  /**
   * [a-z0-9][a-z0-9_-]{0,63}
   */
  'id'?: (string);
  'scope'?: (_pulse_v1_CapScope);
  /**
   * The campaign or creative id the cap applies to.
   */
  'target'?: (string);
  /**
   * At most this many impressions...
   */
  'limit'?: (number);
  /**
   * ...in any sliding window of this many seconds (1 second to 30 days).
   */
  'windowSeconds'?: (number | string | Long);
  /**
   * Empty: impressions on every channel count; otherwise only impressions on this channel.
   */
  'channel'?: (string);
}

export interface FrequencyCap__Output {
  /**
   * [a-z0-9][a-z0-9_-]{0,63}
   */
  'id': (string);
  'scope': (_pulse_v1_CapScope__Output);
  /**
   * The campaign or creative id the cap applies to.
   */
  'target': (string);
  /**
   * At most this many impressions...
   */
  'limit': (number);
  /**
   * ...in any sliding window of this many seconds (1 second to 30 days).
   */
  'windowSeconds': (string);
  /**
   * Empty: impressions on every channel count; otherwise only impressions on this channel.
   */
  'channel': (string);
}
