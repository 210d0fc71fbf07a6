// Original file: proto/pulse/v1/inventory.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Inventory as _pulse_v1_Inventory, Inventory__Output as _pulse_v1_Inventory__Output } from '../../pulse/v1/Inventory.js';
import type { ListInventoryRequest as _pulse_v1_ListInventoryRequest, ListInventoryRequest__Output as _pulse_v1_ListInventoryRequest__Output } from '../../pulse/v1/ListInventoryRequest.js';
import type { ListInventoryResponse as _pulse_v1_ListInventoryResponse, ListInventoryResponse__Output as _pulse_v1_ListInventoryResponse__Output } from '../../pulse/v1/ListInventoryResponse.js';
import type { MatchAudienceRequest as _pulse_v1_MatchAudienceRequest, MatchAudienceRequest__Output as _pulse_v1_MatchAudienceRequest__Output } from '../../pulse/v1/MatchAudienceRequest.js';
import type { MatchAudienceResponse as _pulse_v1_MatchAudienceResponse, MatchAudienceResponse__Output as _pulse_v1_MatchAudienceResponse__Output } from '../../pulse/v1/MatchAudienceResponse.js';
import type { SspReportRequest as _pulse_v1_SspReportRequest, SspReportRequest__Output as _pulse_v1_SspReportRequest__Output } from '../../pulse/v1/SspReportRequest.js';
import type { SspReportResponse as _pulse_v1_SspReportResponse, SspReportResponse__Output as _pulse_v1_SspReportResponse__Output } from '../../pulse/v1/SspReportResponse.js';

/**
 * The SSP side: inventory, audience matching and performance. Requires scope `inventory:write`.
 */
export interface InventoryServiceClient extends grpc.Client {
  /**
   * The tenant's inventory, sorted by id.
   */
  ListInventory(argument: _pulse_v1_ListInventoryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListInventoryResponse__Output>): grpc.ClientUnaryCall;
  ListInventory(argument: _pulse_v1_ListInventoryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_ListInventoryResponse__Output>): grpc.ClientUnaryCall;
  ListInventory(argument: _pulse_v1_ListInventoryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListInventoryResponse__Output>): grpc.ClientUnaryCall;
  ListInventory(argument: _pulse_v1_ListInventoryRequest, callback: grpc.requestCallback<_pulse_v1_ListInventoryResponse__Output>): grpc.ClientUnaryCall;
  /**
   * The tenant's inventory, sorted by id.
   */
  listInventory(argument: _pulse_v1_ListInventoryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListInventoryResponse__Output>): grpc.ClientUnaryCall;
  listInventory(argument: _pulse_v1_ListInventoryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_ListInventoryResponse__Output>): grpc.ClientUnaryCall;
  listInventory(argument: _pulse_v1_ListInventoryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListInventoryResponse__Output>): grpc.ClientUnaryCall;
  listInventory(argument: _pulse_v1_ListInventoryRequest, callback: grpc.requestCallback<_pulse_v1_ListInventoryResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Segments and deals ranked for a placement by estimated reach and value (see MatchAudienceResponse).
   */
  MatchAudience(argument: _pulse_v1_MatchAudienceRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_MatchAudienceResponse__Output>): grpc.ClientUnaryCall;
  MatchAudience(argument: _pulse_v1_MatchAudienceRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_MatchAudienceResponse__Output>): grpc.ClientUnaryCall;
  MatchAudience(argument: _pulse_v1_MatchAudienceRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_MatchAudienceResponse__Output>): grpc.ClientUnaryCall;
  MatchAudience(argument: _pulse_v1_MatchAudienceRequest, callback: grpc.requestCallback<_pulse_v1_MatchAudienceResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Segments and deals ranked for a placement by estimated reach and value (see MatchAudienceResponse).
   */
  matchAudience(argument: _pulse_v1_MatchAudienceRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_MatchAudienceResponse__Output>): grpc.ClientUnaryCall;
  matchAudience(argument: _pulse_v1_MatchAudienceRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_MatchAudienceResponse__Output>): grpc.ClientUnaryCall;
  matchAudience(argument: _pulse_v1_MatchAudienceRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_MatchAudienceResponse__Output>): grpc.ClientUnaryCall;
  matchAudience(argument: _pulse_v1_MatchAudienceRequest, callback: grpc.requestCallback<_pulse_v1_MatchAudienceResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Registers (upserts) a site or app with its placements. Idempotent: registering the same
   * inventory again replaces it. Invalid fields are refused with INVALID_ARGUMENT naming the field.
   */
  RegisterInventory(argument: _pulse_v1_Inventory, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Inventory__Output>): grpc.ClientUnaryCall;
  RegisterInventory(argument: _pulse_v1_Inventory, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_Inventory__Output>): grpc.ClientUnaryCall;
  RegisterInventory(argument: _pulse_v1_Inventory, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Inventory__Output>): grpc.ClientUnaryCall;
  RegisterInventory(argument: _pulse_v1_Inventory, callback: grpc.requestCallback<_pulse_v1_Inventory__Output>): grpc.ClientUnaryCall;
  /**
   * Registers (upserts) a site or app with its placements. Idempotent: registering the same
   * inventory again replaces it. Invalid fields are refused with INVALID_ARGUMENT naming the field.
   */
  registerInventory(argument: _pulse_v1_Inventory, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Inventory__Output>): grpc.ClientUnaryCall;
  registerInventory(argument: _pulse_v1_Inventory, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_Inventory__Output>): grpc.ClientUnaryCall;
  registerInventory(argument: _pulse_v1_Inventory, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Inventory__Output>): grpc.ClientUnaryCall;
  registerInventory(argument: _pulse_v1_Inventory, callback: grpc.requestCallback<_pulse_v1_Inventory__Output>): grpc.ClientUnaryCall;
  
  /**
   * Requests, bids, wins, fill rate, eCPM and win rate by SSP, placement and day (UTC) from the
   * outcomes reported through OutcomeService.
   */
  SspReport(argument: _pulse_v1_SspReportRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_SspReportResponse__Output>): grpc.ClientUnaryCall;
  SspReport(argument: _pulse_v1_SspReportRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_SspReportResponse__Output>): grpc.ClientUnaryCall;
  SspReport(argument: _pulse_v1_SspReportRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_SspReportResponse__Output>): grpc.ClientUnaryCall;
  SspReport(argument: _pulse_v1_SspReportRequest, callback: grpc.requestCallback<_pulse_v1_SspReportResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Requests, bids, wins, fill rate, eCPM and win rate by SSP, placement and day (UTC) from the
   * outcomes reported through OutcomeService.
   */
  sspReport(argument: _pulse_v1_SspReportRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_SspReportResponse__Output>): grpc.ClientUnaryCall;
  sspReport(argument: _pulse_v1_SspReportRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_SspReportResponse__Output>): grpc.ClientUnaryCall;
  sspReport(argument: _pulse_v1_SspReportRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_SspReportResponse__Output>): grpc.ClientUnaryCall;
  sspReport(argument: _pulse_v1_SspReportRequest, callback: grpc.requestCallback<_pulse_v1_SspReportResponse__Output>): grpc.ClientUnaryCall;
  
}

/**
 * The SSP side: inventory, audience matching and performance. Requires scope `inventory:write`.
 */
export interface InventoryServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * The tenant's inventory, sorted by id.
   */
  ListInventory: grpc.handleUnaryCall<_pulse_v1_ListInventoryRequest__Output, _pulse_v1_ListInventoryResponse>;
  
  /**
   * Segments and deals ranked for a placement by estimated reach and value (see MatchAudienceResponse).
   */
  MatchAudience: grpc.handleUnaryCall<_pulse_v1_MatchAudienceRequest__Output, _pulse_v1_MatchAudienceResponse>;
  
  /**
   * Registers (upserts) a site or app with its placements. Idempotent: registering the same
   * inventory again replaces it. Invalid fields are refused with INVALID_ARGUMENT naming the field.
   */
  RegisterInventory: grpc.handleUnaryCall<_pulse_v1_Inventory__Output, _pulse_v1_Inventory>;
  
  /**
   * Requests, bids, wins, fill rate, eCPM and win rate by SSP, placement and day (UTC) from the
   * outcomes reported through OutcomeService.
   */
  SspReport: grpc.handleUnaryCall<_pulse_v1_SspReportRequest__Output, _pulse_v1_SspReportResponse>;
  
}

export interface InventoryServiceDefinition extends grpc.ServiceDefinition {
  ListInventory: MethodDefinition<_pulse_v1_ListInventoryRequest, _pulse_v1_ListInventoryResponse, _pulse_v1_ListInventoryRequest__Output, _pulse_v1_ListInventoryResponse__Output>
  MatchAudience: MethodDefinition<_pulse_v1_MatchAudienceRequest, _pulse_v1_MatchAudienceResponse, _pulse_v1_MatchAudienceRequest__Output, _pulse_v1_MatchAudienceResponse__Output>
  RegisterInventory: MethodDefinition<_pulse_v1_Inventory, _pulse_v1_Inventory, _pulse_v1_Inventory__Output, _pulse_v1_Inventory__Output>
  SspReport: MethodDefinition<_pulse_v1_SspReportRequest, _pulse_v1_SspReportResponse, _pulse_v1_SspReportRequest__Output, _pulse_v1_SspReportResponse__Output>
}
