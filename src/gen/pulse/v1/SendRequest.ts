// Original file: proto/pulse/v1/ingest.proto

import type { Event as _pulse_v1_Event, Event__Output as _pulse_v1_Event__Output } from '../../pulse/v1/Event.js';

export interface SendRequest {
  'events'?: (_pulse_v1_Event)[];
}

export interface SendRequest__Output {
  'events': (_pulse_v1_Event__Output)[];
}
