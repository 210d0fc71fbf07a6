// Original file: proto/pulse/v1/targeting.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { GetAudienceRequest as _pulse_v1_GetAudienceRequest, GetAudienceRequest__Output as _pulse_v1_GetAudienceRequest__Output } from '../../pulse/v1/GetAudienceRequest.js';
import type { GetAudienceResponse as _pulse_v1_GetAudienceResponse, GetAudienceResponse__Output as _pulse_v1_GetAudienceResponse__Output } from '../../pulse/v1/GetAudienceResponse.js';

/**
 * Real-time audience lookups for bidders. Requires scope `targeting:read`.
 */
export interface TargetingServiceClient extends grpc.Client {
  /**
   * The segments of the person behind any of the identifiers. An unknown person is an empty
   * response, not an error.
   */
  GetAudience(argument: _pulse_v1_GetAudienceRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_GetAudienceResponse__Output>): grpc.ClientUnaryCall;
  GetAudience(argument: _pulse_v1_GetAudienceRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_GetAudienceResponse__Output>): grpc.ClientUnaryCall;
  GetAudience(argument: _pulse_v1_GetAudienceRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_GetAudienceResponse__Output>): grpc.ClientUnaryCall;
  GetAudience(argument: _pulse_v1_GetAudienceRequest, callback: grpc.requestCallback<_pulse_v1_GetAudienceResponse__Output>): grpc.ClientUnaryCall;
  /**
   * The segments of the person behind any of the identifiers. An unknown person is an empty
   * response, not an error.
   */
  getAudience(argument: _pulse_v1_GetAudienceRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_GetAudienceResponse__Output>): grpc.ClientUnaryCall;
  getAudience(argument: _pulse_v1_GetAudienceRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_GetAudienceResponse__Output>): grpc.ClientUnaryCall;
  getAudience(argument: _pulse_v1_GetAudienceRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_GetAudienceResponse__Output>): grpc.ClientUnaryCall;
  getAudience(argument: _pulse_v1_GetAudienceRequest, callback: grpc.requestCallback<_pulse_v1_GetAudienceResponse__Output>): grpc.ClientUnaryCall;
  
}

/**
 * Real-time audience lookups for bidders. Requires scope `targeting:read`.
 */
export interface TargetingServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * The segments of the person behind any of the identifiers. An unknown person is an empty
   * response, not an error.
   */
  GetAudience: grpc.handleUnaryCall<_pulse_v1_GetAudienceRequest__Output, _pulse_v1_GetAudienceResponse>;
  
}

export interface TargetingServiceDefinition extends grpc.ServiceDefinition {
  GetAudience: MethodDefinition<_pulse_v1_GetAudienceRequest, _pulse_v1_GetAudienceResponse, _pulse_v1_GetAudienceRequest__Output, _pulse_v1_GetAudienceResponse__Output>
}
