import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { ListValue as _google_protobuf_ListValue, ListValue__Output as _google_protobuf_ListValue__Output } from './google/protobuf/ListValue.js';
import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from './google/protobuf/Struct.js';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp.js';
import type { Value as _google_protobuf_Value, Value__Output as _google_protobuf_Value__Output } from './google/protobuf/Value.js';
import type { Event as _pulse_v1_Event, Event__Output as _pulse_v1_Event__Output } from './pulse/v1/Event.js';
import type { EventError as _pulse_v1_EventError, EventError__Output as _pulse_v1_EventError__Output } from './pulse/v1/EventError.js';
import type { EventResult as _pulse_v1_EventResult, EventResult__Output as _pulse_v1_EventResult__Output } from './pulse/v1/EventResult.js';
import type { IngestServiceClient as _pulse_v1_IngestServiceClient, IngestServiceDefinition as _pulse_v1_IngestServiceDefinition } from './pulse/v1/IngestService.js';
import type { SendRequest as _pulse_v1_SendRequest, SendRequest__Output as _pulse_v1_SendRequest__Output } from './pulse/v1/SendRequest.js';
import type { SendResponse as _pulse_v1_SendResponse, SendResponse__Output as _pulse_v1_SendResponse__Output } from './pulse/v1/SendResponse.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  google: {
    protobuf: {
      ListValue: MessageTypeDefinition<_google_protobuf_ListValue, _google_protobuf_ListValue__Output>
      NullValue: EnumTypeDefinition
      Struct: MessageTypeDefinition<_google_protobuf_Struct, _google_protobuf_Struct__Output>
      Timestamp: MessageTypeDefinition<_google_protobuf_Timestamp, _google_protobuf_Timestamp__Output>
      Value: MessageTypeDefinition<_google_protobuf_Value, _google_protobuf_Value__Output>
    }
  }
  pulse: {
    v1: {
      Event: MessageTypeDefinition<_pulse_v1_Event, _pulse_v1_Event__Output>
      EventError: MessageTypeDefinition<_pulse_v1_EventError, _pulse_v1_EventError__Output>
      EventResult: MessageTypeDefinition<_pulse_v1_EventResult, _pulse_v1_EventResult__Output>
      /**
       * Event ingestion for servers. Requires scope `events:write`; the tenant comes from the key.
       * A call returns once NATS JetStream has stored the accepted events, so an accepted event is
       * never lost; UNAVAILABLE means the request was not acknowledged: retry it (events are
       * de-duplicated by message_id). Limits, as the HTTP collector: 32 KB an event and 500 KB a
       * request (as JSON); a larger request fails with RESOURCE_EXHAUSTED.
       */
      IngestService: SubtypeConstructor<typeof grpc.Client, _pulse_v1_IngestServiceClient> & { service: _pulse_v1_IngestServiceDefinition }
      SendRequest: MessageTypeDefinition<_pulse_v1_SendRequest, _pulse_v1_SendRequest__Output>
      SendResponse: MessageTypeDefinition<_pulse_v1_SendResponse, _pulse_v1_SendResponse__Output>
    }
  }
}

