// Original file: proto/pulse/v1/outcomes.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ReportOutcomesRequest as _pulse_v1_ReportOutcomesRequest, ReportOutcomesRequest__Output as _pulse_v1_ReportOutcomesRequest__Output } from '../../pulse/v1/ReportOutcomesRequest.js';
import type { ReportOutcomesResponse as _pulse_v1_ReportOutcomesResponse, ReportOutcomesResponse__Output as _pulse_v1_ReportOutcomesResponse__Output } from '../../pulse/v1/ReportOutcomesResponse.js';

/**
 * Auction outcomes reported by bidders and exchanges. Requires scope `outcomes:write`.
 */
export interface OutcomeServiceClient extends grpc.Client {
  /**
   * Records bids, wins, losses, impressions and clicks into the warehouse (`<namespace>.outcomes`)
   * in one insert. Idempotent on (kind, id): a retried report is answered DUPLICATE and not counted
   * twice. Invalid items are refused one by one (the others are still recorded). Impressions with
   * identifiers also count toward frequency caps.
   */
  ReportOutcomes(argument: _pulse_v1_ReportOutcomesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ReportOutcomesResponse__Output>): grpc.ClientUnaryCall;
  ReportOutcomes(argument: _pulse_v1_ReportOutcomesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_ReportOutcomesResponse__Output>): grpc.ClientUnaryCall;
  ReportOutcomes(argument: _pulse_v1_ReportOutcomesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ReportOutcomesResponse__Output>): grpc.ClientUnaryCall;
  ReportOutcomes(argument: _pulse_v1_ReportOutcomesRequest, callback: grpc.requestCallback<_pulse_v1_ReportOutcomesResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Records bids, wins, losses, impressions and clicks into the warehouse (`<namespace>.outcomes`)
   * in one insert. Idempotent on (kind, id): a retried report is answered DUPLICATE and not counted
   * twice. Invalid items are refused one by one (the others are still recorded). Impressions with
   * identifiers also count toward frequency caps.
   */
  reportOutcomes(argument: _pulse_v1_ReportOutcomesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ReportOutcomesResponse__Output>): grpc.ClientUnaryCall;
  reportOutcomes(argument: _pulse_v1_ReportOutcomesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_ReportOutcomesResponse__Output>): grpc.ClientUnaryCall;
  reportOutcomes(argument: _pulse_v1_ReportOutcomesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ReportOutcomesResponse__Output>): grpc.ClientUnaryCall;
  reportOutcomes(argument: _pulse_v1_ReportOutcomesRequest, callback: grpc.requestCallback<_pulse_v1_ReportOutcomesResponse__Output>): grpc.ClientUnaryCall;
  
}

/**
 * Auction outcomes reported by bidders and exchanges. Requires scope `outcomes:write`.
 */
export interface OutcomeServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Records bids, wins, losses, impressions and clicks into the warehouse (`<namespace>.outcomes`)
   * in one insert. Idempotent on (kind, id): a retried report is answered DUPLICATE and not counted
   * twice. Invalid items are refused one by one (the others are still recorded). Impressions with
   * identifiers also count toward frequency caps.
   */
  ReportOutcomes: grpc.handleUnaryCall<_pulse_v1_ReportOutcomesRequest__Output, _pulse_v1_ReportOutcomesResponse>;
  
}

export interface OutcomeServiceDefinition extends grpc.ServiceDefinition {
  ReportOutcomes: MethodDefinition<_pulse_v1_ReportOutcomesRequest, _pulse_v1_ReportOutcomesResponse, _pulse_v1_ReportOutcomesRequest__Output, _pulse_v1_ReportOutcomesResponse__Output>
}
