import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp.js';
import type { CreateSegmentRequest as _pulse_v1_CreateSegmentRequest, CreateSegmentRequest__Output as _pulse_v1_CreateSegmentRequest__Output } from './pulse/v1/CreateSegmentRequest.js';
import type { DeleteSegmentRequest as _pulse_v1_DeleteSegmentRequest, DeleteSegmentRequest__Output as _pulse_v1_DeleteSegmentRequest__Output } from './pulse/v1/DeleteSegmentRequest.js';
import type { DeleteSegmentResponse as _pulse_v1_DeleteSegmentResponse, DeleteSegmentResponse__Output as _pulse_v1_DeleteSegmentResponse__Output } from './pulse/v1/DeleteSegmentResponse.js';
import type { GetSegmentRequest as _pulse_v1_GetSegmentRequest, GetSegmentRequest__Output as _pulse_v1_GetSegmentRequest__Output } from './pulse/v1/GetSegmentRequest.js';
import type { ListSegmentsRequest as _pulse_v1_ListSegmentsRequest, ListSegmentsRequest__Output as _pulse_v1_ListSegmentsRequest__Output } from './pulse/v1/ListSegmentsRequest.js';
import type { ListSegmentsResponse as _pulse_v1_ListSegmentsResponse, ListSegmentsResponse__Output as _pulse_v1_ListSegmentsResponse__Output } from './pulse/v1/ListSegmentsResponse.js';
import type { Segment as _pulse_v1_Segment, Segment__Output as _pulse_v1_Segment__Output } from './pulse/v1/Segment.js';
import type { SegmentServiceClient as _pulse_v1_SegmentServiceClient, SegmentServiceDefinition as _pulse_v1_SegmentServiceDefinition } from './pulse/v1/SegmentService.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  google: {
    protobuf: {
      Timestamp: MessageTypeDefinition<_google_protobuf_Timestamp, _google_protobuf_Timestamp__Output>
    }
  }
  pulse: {
    v1: {
      CreateSegmentRequest: MessageTypeDefinition<_pulse_v1_CreateSegmentRequest, _pulse_v1_CreateSegmentRequest__Output>
      DeleteSegmentRequest: MessageTypeDefinition<_pulse_v1_DeleteSegmentRequest, _pulse_v1_DeleteSegmentRequest__Output>
      DeleteSegmentResponse: MessageTypeDefinition<_pulse_v1_DeleteSegmentResponse, _pulse_v1_DeleteSegmentResponse__Output>
      GetSegmentRequest: MessageTypeDefinition<_pulse_v1_GetSegmentRequest, _pulse_v1_GetSegmentRequest__Output>
      ListSegmentsRequest: MessageTypeDefinition<_pulse_v1_ListSegmentsRequest, _pulse_v1_ListSegmentsRequest__Output>
      ListSegmentsResponse: MessageTypeDefinition<_pulse_v1_ListSegmentsResponse, _pulse_v1_ListSegmentsResponse__Output>
      Segment: MessageTypeDefinition<_pulse_v1_Segment, _pulse_v1_Segment__Output>
      /**
       * Audience segments. Reads require `segments:read`, changes `segments:write`.
       */
      SegmentService: SubtypeConstructor<typeof grpc.Client, _pulse_v1_SegmentServiceClient> & { service: _pulse_v1_SegmentServiceDefinition }
    }
  }
}

