import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp.js';
import type { BackfillStatus as _pulse_v1_BackfillStatus, BackfillStatus__Output as _pulse_v1_BackfillStatus__Output } from './pulse/v1/BackfillStatus.js';
import type { CreateSegmentRequest as _pulse_v1_CreateSegmentRequest, CreateSegmentRequest__Output as _pulse_v1_CreateSegmentRequest__Output } from './pulse/v1/CreateSegmentRequest.js';
import type { DeleteSegmentRequest as _pulse_v1_DeleteSegmentRequest, DeleteSegmentRequest__Output as _pulse_v1_DeleteSegmentRequest__Output } from './pulse/v1/DeleteSegmentRequest.js';
import type { DeleteSegmentResponse as _pulse_v1_DeleteSegmentResponse, DeleteSegmentResponse__Output as _pulse_v1_DeleteSegmentResponse__Output } from './pulse/v1/DeleteSegmentResponse.js';
import type { EstimateSegmentRequest as _pulse_v1_EstimateSegmentRequest, EstimateSegmentRequest__Output as _pulse_v1_EstimateSegmentRequest__Output } from './pulse/v1/EstimateSegmentRequest.js';
import type { EstimateSegmentResponse as _pulse_v1_EstimateSegmentResponse, EstimateSegmentResponse__Output as _pulse_v1_EstimateSegmentResponse__Output } from './pulse/v1/EstimateSegmentResponse.js';
import type { ExplainSegmentRequest as _pulse_v1_ExplainSegmentRequest, ExplainSegmentRequest__Output as _pulse_v1_ExplainSegmentRequest__Output } from './pulse/v1/ExplainSegmentRequest.js';
import type { ExplainSegmentResponse as _pulse_v1_ExplainSegmentResponse, ExplainSegmentResponse__Output as _pulse_v1_ExplainSegmentResponse__Output } from './pulse/v1/ExplainSegmentResponse.js';
import type { GetBackfillStatusRequest as _pulse_v1_GetBackfillStatusRequest, GetBackfillStatusRequest__Output as _pulse_v1_GetBackfillStatusRequest__Output } from './pulse/v1/GetBackfillStatusRequest.js';
import type { GetSegmentRequest as _pulse_v1_GetSegmentRequest, GetSegmentRequest__Output as _pulse_v1_GetSegmentRequest__Output } from './pulse/v1/GetSegmentRequest.js';
import type { Identifier as _pulse_v1_Identifier, Identifier__Output as _pulse_v1_Identifier__Output } from './pulse/v1/Identifier.js';
import type { ListSegmentVersionsRequest as _pulse_v1_ListSegmentVersionsRequest, ListSegmentVersionsRequest__Output as _pulse_v1_ListSegmentVersionsRequest__Output } from './pulse/v1/ListSegmentVersionsRequest.js';
import type { ListSegmentVersionsResponse as _pulse_v1_ListSegmentVersionsResponse, ListSegmentVersionsResponse__Output as _pulse_v1_ListSegmentVersionsResponse__Output } from './pulse/v1/ListSegmentVersionsResponse.js';
import type { ListSegmentsRequest as _pulse_v1_ListSegmentsRequest, ListSegmentsRequest__Output as _pulse_v1_ListSegmentsRequest__Output } from './pulse/v1/ListSegmentsRequest.js';
import type { ListSegmentsResponse as _pulse_v1_ListSegmentsResponse, ListSegmentsResponse__Output as _pulse_v1_ListSegmentsResponse__Output } from './pulse/v1/ListSegmentsResponse.js';
import type { RuleProblem as _pulse_v1_RuleProblem, RuleProblem__Output as _pulse_v1_RuleProblem__Output } from './pulse/v1/RuleProblem.js';
import type { Segment as _pulse_v1_Segment, Segment__Output as _pulse_v1_Segment__Output } from './pulse/v1/Segment.js';
import type { SegmentServiceClient as _pulse_v1_SegmentServiceClient, SegmentServiceDefinition as _pulse_v1_SegmentServiceDefinition } from './pulse/v1/SegmentService.js';
import type { UpdateSegmentRequest as _pulse_v1_UpdateSegmentRequest, UpdateSegmentRequest__Output as _pulse_v1_UpdateSegmentRequest__Output } from './pulse/v1/UpdateSegmentRequest.js';
import type { ValidateRuleRequest as _pulse_v1_ValidateRuleRequest, ValidateRuleRequest__Output as _pulse_v1_ValidateRuleRequest__Output } from './pulse/v1/ValidateRuleRequest.js';
import type { ValidateRuleResponse as _pulse_v1_ValidateRuleResponse, ValidateRuleResponse__Output as _pulse_v1_ValidateRuleResponse__Output } from './pulse/v1/ValidateRuleResponse.js';

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
      BackfillStatus: MessageTypeDefinition<_pulse_v1_BackfillStatus, _pulse_v1_BackfillStatus__Output>
      CreateSegmentRequest: MessageTypeDefinition<_pulse_v1_CreateSegmentRequest, _pulse_v1_CreateSegmentRequest__Output>
      DeleteSegmentRequest: MessageTypeDefinition<_pulse_v1_DeleteSegmentRequest, _pulse_v1_DeleteSegmentRequest__Output>
      DeleteSegmentResponse: MessageTypeDefinition<_pulse_v1_DeleteSegmentResponse, _pulse_v1_DeleteSegmentResponse__Output>
      EstimateSegmentRequest: MessageTypeDefinition<_pulse_v1_EstimateSegmentRequest, _pulse_v1_EstimateSegmentRequest__Output>
      EstimateSegmentResponse: MessageTypeDefinition<_pulse_v1_EstimateSegmentResponse, _pulse_v1_EstimateSegmentResponse__Output>
      ExplainSegmentRequest: MessageTypeDefinition<_pulse_v1_ExplainSegmentRequest, _pulse_v1_ExplainSegmentRequest__Output>
      ExplainSegmentResponse: MessageTypeDefinition<_pulse_v1_ExplainSegmentResponse, _pulse_v1_ExplainSegmentResponse__Output>
      GetBackfillStatusRequest: MessageTypeDefinition<_pulse_v1_GetBackfillStatusRequest, _pulse_v1_GetBackfillStatusRequest__Output>
      GetSegmentRequest: MessageTypeDefinition<_pulse_v1_GetSegmentRequest, _pulse_v1_GetSegmentRequest__Output>
      Identifier: MessageTypeDefinition<_pulse_v1_Identifier, _pulse_v1_Identifier__Output>
      ListSegmentVersionsRequest: MessageTypeDefinition<_pulse_v1_ListSegmentVersionsRequest, _pulse_v1_ListSegmentVersionsRequest__Output>
      ListSegmentVersionsResponse: MessageTypeDefinition<_pulse_v1_ListSegmentVersionsResponse, _pulse_v1_ListSegmentVersionsResponse__Output>
      ListSegmentsRequest: MessageTypeDefinition<_pulse_v1_ListSegmentsRequest, _pulse_v1_ListSegmentsRequest__Output>
      ListSegmentsResponse: MessageTypeDefinition<_pulse_v1_ListSegmentsResponse, _pulse_v1_ListSegmentsResponse__Output>
      RuleProblem: MessageTypeDefinition<_pulse_v1_RuleProblem, _pulse_v1_RuleProblem__Output>
      Segment: MessageTypeDefinition<_pulse_v1_Segment, _pulse_v1_Segment__Output>
      /**
       * Audience segments. Reads require `segments:read`, changes `segments:write`.
       */
      SegmentService: SubtypeConstructor<typeof grpc.Client, _pulse_v1_SegmentServiceClient> & { service: _pulse_v1_SegmentServiceDefinition }
      UpdateSegmentRequest: MessageTypeDefinition<_pulse_v1_UpdateSegmentRequest, _pulse_v1_UpdateSegmentRequest__Output>
      ValidateRuleRequest: MessageTypeDefinition<_pulse_v1_ValidateRuleRequest, _pulse_v1_ValidateRuleRequest__Output>
      ValidateRuleResponse: MessageTypeDefinition<_pulse_v1_ValidateRuleResponse, _pulse_v1_ValidateRuleResponse__Output>
    }
  }
}

