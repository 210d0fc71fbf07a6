// Original file: proto/pulse/v1/targeting.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { BatchGetAudienceRequest as _pulse_v1_BatchGetAudienceRequest, BatchGetAudienceRequest__Output as _pulse_v1_BatchGetAudienceRequest__Output } from '../../pulse/v1/BatchGetAudienceRequest.js';
import type { BatchGetAudienceResponse as _pulse_v1_BatchGetAudienceResponse, BatchGetAudienceResponse__Output as _pulse_v1_BatchGetAudienceResponse__Output } from '../../pulse/v1/BatchGetAudienceResponse.js';
import type { EnrichBidRequestRequest as _pulse_v1_EnrichBidRequestRequest, EnrichBidRequestRequest__Output as _pulse_v1_EnrichBidRequestRequest__Output } from '../../pulse/v1/EnrichBidRequestRequest.js';
import type { EnrichBidRequestResponse as _pulse_v1_EnrichBidRequestResponse, EnrichBidRequestResponse__Output as _pulse_v1_EnrichBidRequestResponse__Output } from '../../pulse/v1/EnrichBidRequestResponse.js';
import type { GetAudienceRequest as _pulse_v1_GetAudienceRequest, GetAudienceRequest__Output as _pulse_v1_GetAudienceRequest__Output } from '../../pulse/v1/GetAudienceRequest.js';
import type { GetAudienceResponse as _pulse_v1_GetAudienceResponse, GetAudienceResponse__Output as _pulse_v1_GetAudienceResponse__Output } from '../../pulse/v1/GetAudienceResponse.js';

/**
 * Real-time audience lookups for bidders. Requires scope `targeting:read`. A key that belongs to
 * a partner sees only the segments its tenant shares with that partner (DataSharingService),
 * and only when the partner's IAB vendor id has consent for the tenant's required purposes in
 * the TC string of the request, or else the one stored on the profile.
 */
export interface TargetingServiceClient extends grpc.Client {
  /**
   * Many lookups per message, answered in one message with the same ids, for high-throughput
   * bidders. A bad lookup is answered with its error; the others are answered normally.
   */
  BatchGetAudience(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_pulse_v1_BatchGetAudienceRequest, _pulse_v1_BatchGetAudienceResponse__Output>;
  BatchGetAudience(options?: grpc.CallOptions): grpc.ClientDuplexStream<_pulse_v1_BatchGetAudienceRequest, _pulse_v1_BatchGetAudienceResponse__Output>;
  /**
   * Many lookups per message, answered in one message with the same ids, for high-throughput
   * bidders. A bad lookup is answered with its error; the others are answered normally.
   */
  batchGetAudience(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_pulse_v1_BatchGetAudienceRequest, _pulse_v1_BatchGetAudienceResponse__Output>;
  batchGetAudience(options?: grpc.CallOptions): grpc.ClientDuplexStream<_pulse_v1_BatchGetAudienceRequest, _pulse_v1_BatchGetAudienceResponse__Output>;
  
  /**
   * An OpenRTB 2.6 BidRequest (JSON bytes) enriched with the user's segments (`user.data[]` with
   * `ext.segtax`, `imp[].ext.data.pulse_segs`). An unknown user, or a partner that may not
   * receive the segments, gets the request back unchanged. INVALID_ARGUMENT names the field.
   */
  EnrichBidRequest(argument: _pulse_v1_EnrichBidRequestRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_EnrichBidRequestResponse__Output>): grpc.ClientUnaryCall;
  EnrichBidRequest(argument: _pulse_v1_EnrichBidRequestRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_EnrichBidRequestResponse__Output>): grpc.ClientUnaryCall;
  EnrichBidRequest(argument: _pulse_v1_EnrichBidRequestRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_EnrichBidRequestResponse__Output>): grpc.ClientUnaryCall;
  EnrichBidRequest(argument: _pulse_v1_EnrichBidRequestRequest, callback: grpc.requestCallback<_pulse_v1_EnrichBidRequestResponse__Output>): grpc.ClientUnaryCall;
  /**
   * An OpenRTB 2.6 BidRequest (JSON bytes) enriched with the user's segments (`user.data[]` with
   * `ext.segtax`, `imp[].ext.data.pulse_segs`). An unknown user, or a partner that may not
   * receive the segments, gets the request back unchanged. INVALID_ARGUMENT names the field.
   */
  enrichBidRequest(argument: _pulse_v1_EnrichBidRequestRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_EnrichBidRequestResponse__Output>): grpc.ClientUnaryCall;
  enrichBidRequest(argument: _pulse_v1_EnrichBidRequestRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_EnrichBidRequestResponse__Output>): grpc.ClientUnaryCall;
  enrichBidRequest(argument: _pulse_v1_EnrichBidRequestRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_EnrichBidRequestResponse__Output>): grpc.ClientUnaryCall;
  enrichBidRequest(argument: _pulse_v1_EnrichBidRequestRequest, callback: grpc.requestCallback<_pulse_v1_EnrichBidRequestResponse__Output>): grpc.ClientUnaryCall;
  
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
 * Real-time audience lookups for bidders. Requires scope `targeting:read`. A key that belongs to
 * a partner sees only the segments its tenant shares with that partner (DataSharingService),
 * and only when the partner's IAB vendor id has consent for the tenant's required purposes in
 * the TC string of the request, or else the one stored on the profile.
 */
export interface TargetingServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Many lookups per message, answered in one message with the same ids, for high-throughput
   * bidders. A bad lookup is answered with its error; the others are answered normally.
   */
  BatchGetAudience: grpc.handleBidiStreamingCall<_pulse_v1_BatchGetAudienceRequest__Output, _pulse_v1_BatchGetAudienceResponse>;
  
  /**
   * An OpenRTB 2.6 BidRequest (JSON bytes) enriched with the user's segments (`user.data[]` with
   * `ext.segtax`, `imp[].ext.data.pulse_segs`). An unknown user, or a partner that may not
   * receive the segments, gets the request back unchanged. INVALID_ARGUMENT names the field.
   */
  EnrichBidRequest: grpc.handleUnaryCall<_pulse_v1_EnrichBidRequestRequest__Output, _pulse_v1_EnrichBidRequestResponse>;
  
  /**
   * The segments of the person behind any of the identifiers. An unknown person is an empty
   * response, not an error.
   */
  GetAudience: grpc.handleUnaryCall<_pulse_v1_GetAudienceRequest__Output, _pulse_v1_GetAudienceResponse>;
  
}

export interface TargetingServiceDefinition extends grpc.ServiceDefinition {
  BatchGetAudience: MethodDefinition<_pulse_v1_BatchGetAudienceRequest, _pulse_v1_BatchGetAudienceResponse, _pulse_v1_BatchGetAudienceRequest__Output, _pulse_v1_BatchGetAudienceResponse__Output>
  EnrichBidRequest: MethodDefinition<_pulse_v1_EnrichBidRequestRequest, _pulse_v1_EnrichBidRequestResponse, _pulse_v1_EnrichBidRequestRequest__Output, _pulse_v1_EnrichBidRequestResponse__Output>
  GetAudience: MethodDefinition<_pulse_v1_GetAudienceRequest, _pulse_v1_GetAudienceResponse, _pulse_v1_GetAudienceRequest__Output, _pulse_v1_GetAudienceResponse__Output>
}
