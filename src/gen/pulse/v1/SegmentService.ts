// Original file: proto/pulse/v1/segment.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { BackfillStatus as _pulse_v1_BackfillStatus, BackfillStatus__Output as _pulse_v1_BackfillStatus__Output } from '../../pulse/v1/BackfillStatus.js';
import type { CreateSegmentRequest as _pulse_v1_CreateSegmentRequest, CreateSegmentRequest__Output as _pulse_v1_CreateSegmentRequest__Output } from '../../pulse/v1/CreateSegmentRequest.js';
import type { DeleteSegmentRequest as _pulse_v1_DeleteSegmentRequest, DeleteSegmentRequest__Output as _pulse_v1_DeleteSegmentRequest__Output } from '../../pulse/v1/DeleteSegmentRequest.js';
import type { DeleteSegmentResponse as _pulse_v1_DeleteSegmentResponse, DeleteSegmentResponse__Output as _pulse_v1_DeleteSegmentResponse__Output } from '../../pulse/v1/DeleteSegmentResponse.js';
import type { EstimateSegmentRequest as _pulse_v1_EstimateSegmentRequest, EstimateSegmentRequest__Output as _pulse_v1_EstimateSegmentRequest__Output } from '../../pulse/v1/EstimateSegmentRequest.js';
import type { EstimateSegmentResponse as _pulse_v1_EstimateSegmentResponse, EstimateSegmentResponse__Output as _pulse_v1_EstimateSegmentResponse__Output } from '../../pulse/v1/EstimateSegmentResponse.js';
import type { ExplainSegmentRequest as _pulse_v1_ExplainSegmentRequest, ExplainSegmentRequest__Output as _pulse_v1_ExplainSegmentRequest__Output } from '../../pulse/v1/ExplainSegmentRequest.js';
import type { ExplainSegmentResponse as _pulse_v1_ExplainSegmentResponse, ExplainSegmentResponse__Output as _pulse_v1_ExplainSegmentResponse__Output } from '../../pulse/v1/ExplainSegmentResponse.js';
import type { GetBackfillStatusRequest as _pulse_v1_GetBackfillStatusRequest, GetBackfillStatusRequest__Output as _pulse_v1_GetBackfillStatusRequest__Output } from '../../pulse/v1/GetBackfillStatusRequest.js';
import type { GetSegmentRequest as _pulse_v1_GetSegmentRequest, GetSegmentRequest__Output as _pulse_v1_GetSegmentRequest__Output } from '../../pulse/v1/GetSegmentRequest.js';
import type { ListSegmentVersionsRequest as _pulse_v1_ListSegmentVersionsRequest, ListSegmentVersionsRequest__Output as _pulse_v1_ListSegmentVersionsRequest__Output } from '../../pulse/v1/ListSegmentVersionsRequest.js';
import type { ListSegmentVersionsResponse as _pulse_v1_ListSegmentVersionsResponse, ListSegmentVersionsResponse__Output as _pulse_v1_ListSegmentVersionsResponse__Output } from '../../pulse/v1/ListSegmentVersionsResponse.js';
import type { ListSegmentsRequest as _pulse_v1_ListSegmentsRequest, ListSegmentsRequest__Output as _pulse_v1_ListSegmentsRequest__Output } from '../../pulse/v1/ListSegmentsRequest.js';
import type { ListSegmentsResponse as _pulse_v1_ListSegmentsResponse, ListSegmentsResponse__Output as _pulse_v1_ListSegmentsResponse__Output } from '../../pulse/v1/ListSegmentsResponse.js';
import type { Segment as _pulse_v1_Segment, Segment__Output as _pulse_v1_Segment__Output } from '../../pulse/v1/Segment.js';
import type { UpdateSegmentRequest as _pulse_v1_UpdateSegmentRequest, UpdateSegmentRequest__Output as _pulse_v1_UpdateSegmentRequest__Output } from '../../pulse/v1/UpdateSegmentRequest.js';
import type { ValidateRuleRequest as _pulse_v1_ValidateRuleRequest, ValidateRuleRequest__Output as _pulse_v1_ValidateRuleRequest__Output } from '../../pulse/v1/ValidateRuleRequest.js';
import type { ValidateRuleResponse as _pulse_v1_ValidateRuleResponse, ValidateRuleResponse__Output as _pulse_v1_ValidateRuleResponse__Output } from '../../pulse/v1/ValidateRuleResponse.js';

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
  
  /**
   * Approximate size of a draft rule from a uniform random sample of the tenant's profiles.
   */
  EstimateSegment(argument: _pulse_v1_EstimateSegmentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_EstimateSegmentResponse__Output>): grpc.ClientUnaryCall;
  EstimateSegment(argument: _pulse_v1_EstimateSegmentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_EstimateSegmentResponse__Output>): grpc.ClientUnaryCall;
  EstimateSegment(argument: _pulse_v1_EstimateSegmentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_EstimateSegmentResponse__Output>): grpc.ClientUnaryCall;
  EstimateSegment(argument: _pulse_v1_EstimateSegmentRequest, callback: grpc.requestCallback<_pulse_v1_EstimateSegmentResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Approximate size of a draft rule from a uniform random sample of the tenant's profiles.
   */
  estimateSegment(argument: _pulse_v1_EstimateSegmentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_EstimateSegmentResponse__Output>): grpc.ClientUnaryCall;
  estimateSegment(argument: _pulse_v1_EstimateSegmentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_EstimateSegmentResponse__Output>): grpc.ClientUnaryCall;
  estimateSegment(argument: _pulse_v1_EstimateSegmentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_EstimateSegmentResponse__Output>): grpc.ClientUnaryCall;
  estimateSegment(argument: _pulse_v1_EstimateSegmentRequest, callback: grpc.requestCallback<_pulse_v1_EstimateSegmentResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Which conditions of a segment's rule hold for one profile, and the values they saw.
   */
  ExplainSegment(argument: _pulse_v1_ExplainSegmentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ExplainSegmentResponse__Output>): grpc.ClientUnaryCall;
  ExplainSegment(argument: _pulse_v1_ExplainSegmentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_ExplainSegmentResponse__Output>): grpc.ClientUnaryCall;
  ExplainSegment(argument: _pulse_v1_ExplainSegmentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ExplainSegmentResponse__Output>): grpc.ClientUnaryCall;
  ExplainSegment(argument: _pulse_v1_ExplainSegmentRequest, callback: grpc.requestCallback<_pulse_v1_ExplainSegmentResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Which conditions of a segment's rule hold for one profile, and the values they saw.
   */
  explainSegment(argument: _pulse_v1_ExplainSegmentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ExplainSegmentResponse__Output>): grpc.ClientUnaryCall;
  explainSegment(argument: _pulse_v1_ExplainSegmentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_ExplainSegmentResponse__Output>): grpc.ClientUnaryCall;
  explainSegment(argument: _pulse_v1_ExplainSegmentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ExplainSegmentResponse__Output>): grpc.ClientUnaryCall;
  explainSegment(argument: _pulse_v1_ExplainSegmentRequest, callback: grpc.requestCallback<_pulse_v1_ExplainSegmentResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Progress of the segment's latest backfill.
   */
  GetBackfillStatus(argument: _pulse_v1_GetBackfillStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_BackfillStatus__Output>): grpc.ClientUnaryCall;
  GetBackfillStatus(argument: _pulse_v1_GetBackfillStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_BackfillStatus__Output>): grpc.ClientUnaryCall;
  GetBackfillStatus(argument: _pulse_v1_GetBackfillStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_BackfillStatus__Output>): grpc.ClientUnaryCall;
  GetBackfillStatus(argument: _pulse_v1_GetBackfillStatusRequest, callback: grpc.requestCallback<_pulse_v1_BackfillStatus__Output>): grpc.ClientUnaryCall;
  /**
   * Progress of the segment's latest backfill.
   */
  getBackfillStatus(argument: _pulse_v1_GetBackfillStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_BackfillStatus__Output>): grpc.ClientUnaryCall;
  getBackfillStatus(argument: _pulse_v1_GetBackfillStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_BackfillStatus__Output>): grpc.ClientUnaryCall;
  getBackfillStatus(argument: _pulse_v1_GetBackfillStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_BackfillStatus__Output>): grpc.ClientUnaryCall;
  getBackfillStatus(argument: _pulse_v1_GetBackfillStatusRequest, callback: grpc.requestCallback<_pulse_v1_BackfillStatus__Output>): grpc.ClientUnaryCall;
  
  GetSegment(argument: _pulse_v1_GetSegmentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  GetSegment(argument: _pulse_v1_GetSegmentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  GetSegment(argument: _pulse_v1_GetSegmentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  GetSegment(argument: _pulse_v1_GetSegmentRequest, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  getSegment(argument: _pulse_v1_GetSegmentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  getSegment(argument: _pulse_v1_GetSegmentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  getSegment(argument: _pulse_v1_GetSegmentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  getSegment(argument: _pulse_v1_GetSegmentRequest, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  
  /**
   * Every version of a definition, oldest first.
   */
  ListSegmentVersions(argument: _pulse_v1_ListSegmentVersionsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListSegmentVersionsResponse__Output>): grpc.ClientUnaryCall;
  ListSegmentVersions(argument: _pulse_v1_ListSegmentVersionsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_ListSegmentVersionsResponse__Output>): grpc.ClientUnaryCall;
  ListSegmentVersions(argument: _pulse_v1_ListSegmentVersionsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListSegmentVersionsResponse__Output>): grpc.ClientUnaryCall;
  ListSegmentVersions(argument: _pulse_v1_ListSegmentVersionsRequest, callback: grpc.requestCallback<_pulse_v1_ListSegmentVersionsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Every version of a definition, oldest first.
   */
  listSegmentVersions(argument: _pulse_v1_ListSegmentVersionsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListSegmentVersionsResponse__Output>): grpc.ClientUnaryCall;
  listSegmentVersions(argument: _pulse_v1_ListSegmentVersionsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_ListSegmentVersionsResponse__Output>): grpc.ClientUnaryCall;
  listSegmentVersions(argument: _pulse_v1_ListSegmentVersionsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListSegmentVersionsResponse__Output>): grpc.ClientUnaryCall;
  listSegmentVersions(argument: _pulse_v1_ListSegmentVersionsRequest, callback: grpc.requestCallback<_pulse_v1_ListSegmentVersionsResponse__Output>): grpc.ClientUnaryCall;
  
  ListSegments(argument: _pulse_v1_ListSegmentsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListSegmentsResponse__Output>): grpc.ClientUnaryCall;
  ListSegments(argument: _pulse_v1_ListSegmentsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_ListSegmentsResponse__Output>): grpc.ClientUnaryCall;
  ListSegments(argument: _pulse_v1_ListSegmentsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListSegmentsResponse__Output>): grpc.ClientUnaryCall;
  ListSegments(argument: _pulse_v1_ListSegmentsRequest, callback: grpc.requestCallback<_pulse_v1_ListSegmentsResponse__Output>): grpc.ClientUnaryCall;
  listSegments(argument: _pulse_v1_ListSegmentsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListSegmentsResponse__Output>): grpc.ClientUnaryCall;
  listSegments(argument: _pulse_v1_ListSegmentsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_ListSegmentsResponse__Output>): grpc.ClientUnaryCall;
  listSegments(argument: _pulse_v1_ListSegmentsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListSegmentsResponse__Output>): grpc.ClientUnaryCall;
  listSegments(argument: _pulse_v1_ListSegmentsRequest, callback: grpc.requestCallback<_pulse_v1_ListSegmentsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * A new version of the name and/or rule; the segment is backfilled again when its rule changed.
   */
  UpdateSegment(argument: _pulse_v1_UpdateSegmentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  UpdateSegment(argument: _pulse_v1_UpdateSegmentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  UpdateSegment(argument: _pulse_v1_UpdateSegmentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  UpdateSegment(argument: _pulse_v1_UpdateSegmentRequest, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  /**
   * A new version of the name and/or rule; the segment is backfilled again when its rule changed.
   */
  updateSegment(argument: _pulse_v1_UpdateSegmentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  updateSegment(argument: _pulse_v1_UpdateSegmentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  updateSegment(argument: _pulse_v1_UpdateSegmentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  updateSegment(argument: _pulse_v1_UpdateSegmentRequest, callback: grpc.requestCallback<_pulse_v1_Segment__Output>): grpc.ClientUnaryCall;
  
  /**
   * Checks a draft rule (JSON or text form) against the stored segments; never fails on a bad rule.
   */
  ValidateRule(argument: _pulse_v1_ValidateRuleRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ValidateRuleResponse__Output>): grpc.ClientUnaryCall;
  ValidateRule(argument: _pulse_v1_ValidateRuleRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_ValidateRuleResponse__Output>): grpc.ClientUnaryCall;
  ValidateRule(argument: _pulse_v1_ValidateRuleRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ValidateRuleResponse__Output>): grpc.ClientUnaryCall;
  ValidateRule(argument: _pulse_v1_ValidateRuleRequest, callback: grpc.requestCallback<_pulse_v1_ValidateRuleResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Checks a draft rule (JSON or text form) against the stored segments; never fails on a bad rule.
   */
  validateRule(argument: _pulse_v1_ValidateRuleRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ValidateRuleResponse__Output>): grpc.ClientUnaryCall;
  validateRule(argument: _pulse_v1_ValidateRuleRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_ValidateRuleResponse__Output>): grpc.ClientUnaryCall;
  validateRule(argument: _pulse_v1_ValidateRuleRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ValidateRuleResponse__Output>): grpc.ClientUnaryCall;
  validateRule(argument: _pulse_v1_ValidateRuleRequest, callback: grpc.requestCallback<_pulse_v1_ValidateRuleResponse__Output>): grpc.ClientUnaryCall;
  
}

/**
 * Audience segments. Reads require `segments:read`, changes `segments:write`.
 */
export interface SegmentServiceHandlers extends grpc.UntypedServiceImplementation {
  CreateSegment: grpc.handleUnaryCall<_pulse_v1_CreateSegmentRequest__Output, _pulse_v1_Segment>;
  
  DeleteSegment: grpc.handleUnaryCall<_pulse_v1_DeleteSegmentRequest__Output, _pulse_v1_DeleteSegmentResponse>;
  
  /**
   * Approximate size of a draft rule from a uniform random sample of the tenant's profiles.
   */
  EstimateSegment: grpc.handleUnaryCall<_pulse_v1_EstimateSegmentRequest__Output, _pulse_v1_EstimateSegmentResponse>;
  
  /**
   * Which conditions of a segment's rule hold for one profile, and the values they saw.
   */
  ExplainSegment: grpc.handleUnaryCall<_pulse_v1_ExplainSegmentRequest__Output, _pulse_v1_ExplainSegmentResponse>;
  
  /**
   * Progress of the segment's latest backfill.
   */
  GetBackfillStatus: grpc.handleUnaryCall<_pulse_v1_GetBackfillStatusRequest__Output, _pulse_v1_BackfillStatus>;
  
  GetSegment: grpc.handleUnaryCall<_pulse_v1_GetSegmentRequest__Output, _pulse_v1_Segment>;
  
  /**
   * Every version of a definition, oldest first.
   */
  ListSegmentVersions: grpc.handleUnaryCall<_pulse_v1_ListSegmentVersionsRequest__Output, _pulse_v1_ListSegmentVersionsResponse>;
  
  ListSegments: grpc.handleUnaryCall<_pulse_v1_ListSegmentsRequest__Output, _pulse_v1_ListSegmentsResponse>;
  
  /**
   * A new version of the name and/or rule; the segment is backfilled again when its rule changed.
   */
  UpdateSegment: grpc.handleUnaryCall<_pulse_v1_UpdateSegmentRequest__Output, _pulse_v1_Segment>;
  
  /**
   * Checks a draft rule (JSON or text form) against the stored segments; never fails on a bad rule.
   */
  ValidateRule: grpc.handleUnaryCall<_pulse_v1_ValidateRuleRequest__Output, _pulse_v1_ValidateRuleResponse>;
  
}

export interface SegmentServiceDefinition extends grpc.ServiceDefinition {
  CreateSegment: MethodDefinition<_pulse_v1_CreateSegmentRequest, _pulse_v1_Segment, _pulse_v1_CreateSegmentRequest__Output, _pulse_v1_Segment__Output>
  DeleteSegment: MethodDefinition<_pulse_v1_DeleteSegmentRequest, _pulse_v1_DeleteSegmentResponse, _pulse_v1_DeleteSegmentRequest__Output, _pulse_v1_DeleteSegmentResponse__Output>
  EstimateSegment: MethodDefinition<_pulse_v1_EstimateSegmentRequest, _pulse_v1_EstimateSegmentResponse, _pulse_v1_EstimateSegmentRequest__Output, _pulse_v1_EstimateSegmentResponse__Output>
  ExplainSegment: MethodDefinition<_pulse_v1_ExplainSegmentRequest, _pulse_v1_ExplainSegmentResponse, _pulse_v1_ExplainSegmentRequest__Output, _pulse_v1_ExplainSegmentResponse__Output>
  GetBackfillStatus: MethodDefinition<_pulse_v1_GetBackfillStatusRequest, _pulse_v1_BackfillStatus, _pulse_v1_GetBackfillStatusRequest__Output, _pulse_v1_BackfillStatus__Output>
  GetSegment: MethodDefinition<_pulse_v1_GetSegmentRequest, _pulse_v1_Segment, _pulse_v1_GetSegmentRequest__Output, _pulse_v1_Segment__Output>
  ListSegmentVersions: MethodDefinition<_pulse_v1_ListSegmentVersionsRequest, _pulse_v1_ListSegmentVersionsResponse, _pulse_v1_ListSegmentVersionsRequest__Output, _pulse_v1_ListSegmentVersionsResponse__Output>
  ListSegments: MethodDefinition<_pulse_v1_ListSegmentsRequest, _pulse_v1_ListSegmentsResponse, _pulse_v1_ListSegmentsRequest__Output, _pulse_v1_ListSegmentsResponse__Output>
  UpdateSegment: MethodDefinition<_pulse_v1_UpdateSegmentRequest, _pulse_v1_Segment, _pulse_v1_UpdateSegmentRequest__Output, _pulse_v1_Segment__Output>
  ValidateRule: MethodDefinition<_pulse_v1_ValidateRuleRequest, _pulse_v1_ValidateRuleResponse, _pulse_v1_ValidateRuleRequest__Output, _pulse_v1_ValidateRuleResponse__Output>
}
