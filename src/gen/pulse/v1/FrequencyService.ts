// Original file: proto/pulse/v1/frequency.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CheckCapsRequest as _pulse_v1_CheckCapsRequest, CheckCapsRequest__Output as _pulse_v1_CheckCapsRequest__Output } from '../../pulse/v1/CheckCapsRequest.js';
import type { CheckCapsResponse as _pulse_v1_CheckCapsResponse, CheckCapsResponse__Output as _pulse_v1_CheckCapsResponse__Output } from '../../pulse/v1/CheckCapsResponse.js';
import type { DeleteCapRequest as _pulse_v1_DeleteCapRequest, DeleteCapRequest__Output as _pulse_v1_DeleteCapRequest__Output } from '../../pulse/v1/DeleteCapRequest.js';
import type { DeleteCapResponse as _pulse_v1_DeleteCapResponse, DeleteCapResponse__Output as _pulse_v1_DeleteCapResponse__Output } from '../../pulse/v1/DeleteCapResponse.js';
import type { FrequencyCap as _pulse_v1_FrequencyCap, FrequencyCap__Output as _pulse_v1_FrequencyCap__Output } from '../../pulse/v1/FrequencyCap.js';
import type { ListCapsRequest as _pulse_v1_ListCapsRequest, ListCapsRequest__Output as _pulse_v1_ListCapsRequest__Output } from '../../pulse/v1/ListCapsRequest.js';
import type { ListCapsResponse as _pulse_v1_ListCapsResponse, ListCapsResponse__Output as _pulse_v1_ListCapsResponse__Output } from '../../pulse/v1/ListCapsResponse.js';

/**
 * Frequency caps per campaign or creative per person, across devices and channels. SetCap, ListCaps
 * and DeleteCap require scope `admin`; CheckCaps requires `targeting:read`. Impressions are counted
 * from OutcomeService.ReportOutcomes, once per impression id.
 */
export interface FrequencyServiceClient extends grpc.Client {
  /**
   * Which caps the person behind the identifiers has reached. An unknown person has no impressions
   * unless impressions were reported with these identifiers.
   */
  CheckCaps(argument: _pulse_v1_CheckCapsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_CheckCapsResponse__Output>): grpc.ClientUnaryCall;
  CheckCaps(argument: _pulse_v1_CheckCapsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_CheckCapsResponse__Output>): grpc.ClientUnaryCall;
  CheckCaps(argument: _pulse_v1_CheckCapsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_CheckCapsResponse__Output>): grpc.ClientUnaryCall;
  CheckCaps(argument: _pulse_v1_CheckCapsRequest, callback: grpc.requestCallback<_pulse_v1_CheckCapsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Which caps the person behind the identifiers has reached. An unknown person has no impressions
   * unless impressions were reported with these identifiers.
   */
  checkCaps(argument: _pulse_v1_CheckCapsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_CheckCapsResponse__Output>): grpc.ClientUnaryCall;
  checkCaps(argument: _pulse_v1_CheckCapsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_CheckCapsResponse__Output>): grpc.ClientUnaryCall;
  checkCaps(argument: _pulse_v1_CheckCapsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_CheckCapsResponse__Output>): grpc.ClientUnaryCall;
  checkCaps(argument: _pulse_v1_CheckCapsRequest, callback: grpc.requestCallback<_pulse_v1_CheckCapsResponse__Output>): grpc.ClientUnaryCall;
  
  DeleteCap(argument: _pulse_v1_DeleteCapRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_DeleteCapResponse__Output>): grpc.ClientUnaryCall;
  DeleteCap(argument: _pulse_v1_DeleteCapRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_DeleteCapResponse__Output>): grpc.ClientUnaryCall;
  DeleteCap(argument: _pulse_v1_DeleteCapRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_DeleteCapResponse__Output>): grpc.ClientUnaryCall;
  DeleteCap(argument: _pulse_v1_DeleteCapRequest, callback: grpc.requestCallback<_pulse_v1_DeleteCapResponse__Output>): grpc.ClientUnaryCall;
  deleteCap(argument: _pulse_v1_DeleteCapRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_DeleteCapResponse__Output>): grpc.ClientUnaryCall;
  deleteCap(argument: _pulse_v1_DeleteCapRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_DeleteCapResponse__Output>): grpc.ClientUnaryCall;
  deleteCap(argument: _pulse_v1_DeleteCapRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_DeleteCapResponse__Output>): grpc.ClientUnaryCall;
  deleteCap(argument: _pulse_v1_DeleteCapRequest, callback: grpc.requestCallback<_pulse_v1_DeleteCapResponse__Output>): grpc.ClientUnaryCall;
  
  ListCaps(argument: _pulse_v1_ListCapsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListCapsResponse__Output>): grpc.ClientUnaryCall;
  ListCaps(argument: _pulse_v1_ListCapsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_ListCapsResponse__Output>): grpc.ClientUnaryCall;
  ListCaps(argument: _pulse_v1_ListCapsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListCapsResponse__Output>): grpc.ClientUnaryCall;
  ListCaps(argument: _pulse_v1_ListCapsRequest, callback: grpc.requestCallback<_pulse_v1_ListCapsResponse__Output>): grpc.ClientUnaryCall;
  listCaps(argument: _pulse_v1_ListCapsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListCapsResponse__Output>): grpc.ClientUnaryCall;
  listCaps(argument: _pulse_v1_ListCapsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_ListCapsResponse__Output>): grpc.ClientUnaryCall;
  listCaps(argument: _pulse_v1_ListCapsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListCapsResponse__Output>): grpc.ClientUnaryCall;
  listCaps(argument: _pulse_v1_ListCapsRequest, callback: grpc.requestCallback<_pulse_v1_ListCapsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Creates or replaces a cap.
   */
  SetCap(argument: _pulse_v1_FrequencyCap, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_FrequencyCap__Output>): grpc.ClientUnaryCall;
  SetCap(argument: _pulse_v1_FrequencyCap, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_FrequencyCap__Output>): grpc.ClientUnaryCall;
  SetCap(argument: _pulse_v1_FrequencyCap, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_FrequencyCap__Output>): grpc.ClientUnaryCall;
  SetCap(argument: _pulse_v1_FrequencyCap, callback: grpc.requestCallback<_pulse_v1_FrequencyCap__Output>): grpc.ClientUnaryCall;
  /**
   * Creates or replaces a cap.
   */
  setCap(argument: _pulse_v1_FrequencyCap, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_FrequencyCap__Output>): grpc.ClientUnaryCall;
  setCap(argument: _pulse_v1_FrequencyCap, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_FrequencyCap__Output>): grpc.ClientUnaryCall;
  setCap(argument: _pulse_v1_FrequencyCap, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_FrequencyCap__Output>): grpc.ClientUnaryCall;
  setCap(argument: _pulse_v1_FrequencyCap, callback: grpc.requestCallback<_pulse_v1_FrequencyCap__Output>): grpc.ClientUnaryCall;
  
}

/**
 * Frequency caps per campaign or creative per person, across devices and channels. SetCap, ListCaps
 * and DeleteCap require scope `admin`; CheckCaps requires `targeting:read`. Impressions are counted
 * from OutcomeService.ReportOutcomes, once per impression id.
 */
export interface FrequencyServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Which caps the person behind the identifiers has reached. An unknown person has no impressions
   * unless impressions were reported with these identifiers.
   */
  CheckCaps: grpc.handleUnaryCall<_pulse_v1_CheckCapsRequest__Output, _pulse_v1_CheckCapsResponse>;
  
  DeleteCap: grpc.handleUnaryCall<_pulse_v1_DeleteCapRequest__Output, _pulse_v1_DeleteCapResponse>;
  
  ListCaps: grpc.handleUnaryCall<_pulse_v1_ListCapsRequest__Output, _pulse_v1_ListCapsResponse>;
  
  /**
   * Creates or replaces a cap.
   */
  SetCap: grpc.handleUnaryCall<_pulse_v1_FrequencyCap__Output, _pulse_v1_FrequencyCap>;
  
}

export interface FrequencyServiceDefinition extends grpc.ServiceDefinition {
  CheckCaps: MethodDefinition<_pulse_v1_CheckCapsRequest, _pulse_v1_CheckCapsResponse, _pulse_v1_CheckCapsRequest__Output, _pulse_v1_CheckCapsResponse__Output>
  DeleteCap: MethodDefinition<_pulse_v1_DeleteCapRequest, _pulse_v1_DeleteCapResponse, _pulse_v1_DeleteCapRequest__Output, _pulse_v1_DeleteCapResponse__Output>
  ListCaps: MethodDefinition<_pulse_v1_ListCapsRequest, _pulse_v1_ListCapsResponse, _pulse_v1_ListCapsRequest__Output, _pulse_v1_ListCapsResponse__Output>
  SetCap: MethodDefinition<_pulse_v1_FrequencyCap, _pulse_v1_FrequencyCap, _pulse_v1_FrequencyCap__Output, _pulse_v1_FrequencyCap__Output>
}
