// Original file: proto/pulse/v1/segment.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CreateSegmentRequest as _pulse_v1_CreateSegmentRequest, CreateSegmentRequest__Output as _pulse_v1_CreateSegmentRequest__Output } from '../../pulse/v1/CreateSegmentRequest.js';
import type { DeleteSegmentRequest as _pulse_v1_DeleteSegmentRequest, DeleteSegmentRequest__Output as _pulse_v1_DeleteSegmentRequest__Output } from '../../pulse/v1/DeleteSegmentRequest.js';
import type { DeleteSegmentResponse as _pulse_v1_DeleteSegmentResponse, DeleteSegmentResponse__Output as _pulse_v1_DeleteSegmentResponse__Output } from '../../pulse/v1/DeleteSegmentResponse.js';
import type { GetSegmentRequest as _pulse_v1_GetSegmentRequest, GetSegmentRequest__Output as _pulse_v1_GetSegmentRequest__Output } from '../../pulse/v1/GetSegmentRequest.js';
import type { ListSegmentsRequest as _pulse_v1_ListSegmentsRequest, ListSegmentsRequest__Output as _pulse_v1_ListSegmentsRequest__Output } from '../../pulse/v1/ListSegmentsRequest.js';
import type { ListSegmentsResponse as _pulse_v1_ListSegmentsResponse, ListSegmentsResponse__Output as _pulse_v1_ListSegmentsResponse__Output } from '../../pulse/v1/ListSegmentsResponse.js';
import type { Segment as _pulse_v1_Segment, Segment__Output as _pulse_v1_Segment__Output } from '../../pulse/v1/Segment.js';

/**
 * Audience segments. Reads require `segments:read`, changes `segments:write`.
 */
export interface SegmentServiceClient extends grpc.Client {
  CreateSegment(argument: _pulse_v1_CreateSegmentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  CreateSegment(argument: _pulse_v1_CreateSegmentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  CreateSegment(argument: _pulse_v1_CreateSegmentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  CreateSegment(argument: _pulse_v1_CreateSegmentRequest, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  createSegment(argument: _pulse_v1_CreateSegmentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  createSegment(argument: _pulse_v1_CreateSegmentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  createSegment(argument: _pulse_v1_CreateSegmentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  createSegment(argument: _pulse_v1_CreateSegmentRequest, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  
  DeleteSegment(argument: _pulse_v1_DeleteSegmentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_DeleteSegmentResponse__Output>): grpc.ClientUnaryCall;
  DeleteSegment(argument: _pulse_v1_DeleteSegmentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_DeleteSegmentResponse__Output>): grpc.ClientUnaryCall;
  DeleteSegment(argument: _pulse_v1_DeleteSegmentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_DeleteSegmentResponse__Output>): grpc.ClientUnaryCall;
  DeleteSegment(argument: _pulse_v1_DeleteSegmentRequest, callback: grpc.requestCallback<_pulse_v1_DeleteSegmentResponse__Output>): grpc.ClientUnaryCall;
  deleteSegment(argument: _pulse_v1_DeleteSegmentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_DeleteSegmentResponse__Output>): grpc.ClientUnaryCall;
  deleteSegment(argument: _pulse_v1_DeleteSegmentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_DeleteSegmentResponse__Output>): grpc.ClientUnaryCall;
  deleteSegment(argument: _pulse_v1_DeleteSegmentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_DeleteSegmentResponse__Output>): grpc.ClientUnaryCall;
  deleteSegment(argument: _pulse_v1_DeleteSegmentRequest, callback: grpc.requestCallback<_pulse_v1_DeleteSegmentResponse__Output>): grpc.ClientUnaryCall;
  
  GetSegment(argument: _pulse_v1_GetSegmentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  GetSegment(argument: _pulse_v1_GetSegmentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  GetSegment(argument: _pulse_v1_GetSegmentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  GetSegment(argument: _pulse_v1_GetSegmentRequest, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  getSegment(argument: _pulse_v1_GetSegmentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  getSegment(argument: _pulse_v1_GetSegmentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  getSegment(argument: _pulse_v1_GetSegmentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  getSegment(argument: _pulse_v1_GetSegmentRequest, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  
  ListSegments(argument: _pulse_v1_ListSegmentsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListSegmentsResponse__Output>): grpc.ClientUnaryCall;
  ListSegments(argument: _pulse_v1_ListSegmentsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_ListSegmentsResponse__Output>): grpc.ClientUnaryCall;
  ListSegments(argument: _pulse_v1_ListSegmentsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListSegmentsResponse__Output>): grpc.ClientUnaryCall;
  ListSegments(argument: _pulse_v1_ListSegmentsRequest, callback: grpc.requestCallback<_pulse_v1_ListSegmentsResponse__Output>): grpc.ClientUnaryCall;
  listSegments(argument: _pulse_v1_ListSegmentsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListSegmentsResponse__Output>): grpc.ClientUnaryCall;
  listSegments(argument: _pulse_v1_ListSegmentsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_ListSegmentsResponse__Output>): grpc.ClientUnaryCall;
  listSegments(argument: _pulse_v1_ListSegmentsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListSegmentsResponse__Output>): grpc.ClientUnaryCall;
  listSegments(argument: _pulse_v1_ListSegmentsRequest, callback: grpc.requestCallback<_pulse_v1_ListSegmentsResponse__Output>): grpc.ClientUnaryCall;
  
}

/**
 * Audience segments. Reads require `segments:read`, changes `segments:write`.
 */
export interface SegmentServiceHandlers extends grpc.UntypedServiceImplementation {
  CreateSegment: grpc.handleUnaryCall<_pulse_v1_CreateSegmentRequest__Output, _pulse_v1_Segment>;
  
  DeleteSegment: grpc.handleUnaryCall<_pulse_v1_DeleteSegmentRequest__Output, _pulse_v1_DeleteSegmentResponse>;
  
  GetSegment: grpc.handleUnaryCall<_pulse_v1_GetSegmentRequest__Output, _pulse_v1_Segment>;
  
  ListSegments: grpc.handleUnaryCall<_pulse_v1_ListSegmentsRequest__Output, _pulse_v1_ListSegmentsResponse>;
  
}

export interface SegmentServiceDefinition extends grpc.ServiceDefinition {
  CreateSegment: MethodDefinition<_pulse_v1_CreateSegmentRequest, _pulse_v1_Segment, _pulse_v1_CreateSegmentRequest__Output, _pulse_v1_Segment__Output>
  DeleteSegment: MethodDefinition<_pulse_v1_DeleteSegmentRequest, _pulse_v1_DeleteSegmentResponse, _pulse_v1_DeleteSegmentRequest__Output, _pulse_v1_DeleteSegmentResponse__Output>
  GetSegment: MethodDefinition<_pulse_v1_GetSegmentRequest, _pulse_v1_Segment, _pulse_v1_GetSegmentRequest__Output, _pulse_v1_Segment__Output>
  ListSegments: MethodDefinition<_pulse_v1_ListSegmentsRequest, _pulse_v1_ListSegmentsResponse, _pulse_v1_ListSegmentsRequest__Output, _pulse_v1_ListSegmentsResponse__Output>
}
