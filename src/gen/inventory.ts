import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp.js';
import type { BannerFormat as _pulse_v1_BannerFormat, BannerFormat__Output as _pulse_v1_BannerFormat__Output } from './pulse/v1/BannerFormat.js';
import type { Deal as _pulse_v1_Deal, Deal__Output as _pulse_v1_Deal__Output } from './pulse/v1/Deal.js';
import type { DealMatch as _pulse_v1_DealMatch, DealMatch__Output as _pulse_v1_DealMatch__Output } from './pulse/v1/DealMatch.js';
import type { Format as _pulse_v1_Format, Format__Output as _pulse_v1_Format__Output } from './pulse/v1/Format.js';
import type { Inventory as _pulse_v1_Inventory, Inventory__Output as _pulse_v1_Inventory__Output } from './pulse/v1/Inventory.js';
import type { InventoryServiceClient as _pulse_v1_InventoryServiceClient, InventoryServiceDefinition as _pulse_v1_InventoryServiceDefinition } from './pulse/v1/InventoryService.js';
import type { ListInventoryRequest as _pulse_v1_ListInventoryRequest, ListInventoryRequest__Output as _pulse_v1_ListInventoryRequest__Output } from './pulse/v1/ListInventoryRequest.js';
import type { ListInventoryResponse as _pulse_v1_ListInventoryResponse, ListInventoryResponse__Output as _pulse_v1_ListInventoryResponse__Output } from './pulse/v1/ListInventoryResponse.js';
import type { MatchAudienceRequest as _pulse_v1_MatchAudienceRequest, MatchAudienceRequest__Output as _pulse_v1_MatchAudienceRequest__Output } from './pulse/v1/MatchAudienceRequest.js';
import type { MatchAudienceResponse as _pulse_v1_MatchAudienceResponse, MatchAudienceResponse__Output as _pulse_v1_MatchAudienceResponse__Output } from './pulse/v1/MatchAudienceResponse.js';
import type { Placement as _pulse_v1_Placement, Placement__Output as _pulse_v1_Placement__Output } from './pulse/v1/Placement.js';
import type { SegmentMatch as _pulse_v1_SegmentMatch, SegmentMatch__Output as _pulse_v1_SegmentMatch__Output } from './pulse/v1/SegmentMatch.js';
import type { SspReportRequest as _pulse_v1_SspReportRequest, SspReportRequest__Output as _pulse_v1_SspReportRequest__Output } from './pulse/v1/SspReportRequest.js';
import type { SspReportResponse as _pulse_v1_SspReportResponse, SspReportResponse__Output as _pulse_v1_SspReportResponse__Output } from './pulse/v1/SspReportResponse.js';
import type { SspReportRow as _pulse_v1_SspReportRow, SspReportRow__Output as _pulse_v1_SspReportRow__Output } from './pulse/v1/SspReportRow.js';

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
      BannerFormat: MessageTypeDefinition<_pulse_v1_BannerFormat, _pulse_v1_BannerFormat__Output>
      Deal: MessageTypeDefinition<_pulse_v1_Deal, _pulse_v1_Deal__Output>
      DealMatch: MessageTypeDefinition<_pulse_v1_DealMatch, _pulse_v1_DealMatch__Output>
      Format: MessageTypeDefinition<_pulse_v1_Format, _pulse_v1_Format__Output>
      Inventory: MessageTypeDefinition<_pulse_v1_Inventory, _pulse_v1_Inventory__Output>
      InventoryKind: EnumTypeDefinition
      /**
       * The SSP side: inventory, audience matching and performance. Requires scope `inventory:write`.
       */
      InventoryService: SubtypeConstructor<typeof grpc.Client, _pulse_v1_InventoryServiceClient> & { service: _pulse_v1_InventoryServiceDefinition }
      ListInventoryRequest: MessageTypeDefinition<_pulse_v1_ListInventoryRequest, _pulse_v1_ListInventoryRequest__Output>
      ListInventoryResponse: MessageTypeDefinition<_pulse_v1_ListInventoryResponse, _pulse_v1_ListInventoryResponse__Output>
      MatchAudienceRequest: MessageTypeDefinition<_pulse_v1_MatchAudienceRequest, _pulse_v1_MatchAudienceRequest__Output>
      MatchAudienceResponse: MessageTypeDefinition<_pulse_v1_MatchAudienceResponse, _pulse_v1_MatchAudienceResponse__Output>
      Placement: MessageTypeDefinition<_pulse_v1_Placement, _pulse_v1_Placement__Output>
      SegmentMatch: MessageTypeDefinition<_pulse_v1_SegmentMatch, _pulse_v1_SegmentMatch__Output>
      SspReportRequest: MessageTypeDefinition<_pulse_v1_SspReportRequest, _pulse_v1_SspReportRequest__Output>
      SspReportResponse: MessageTypeDefinition<_pulse_v1_SspReportResponse, _pulse_v1_SspReportResponse__Output>
      SspReportRow: MessageTypeDefinition<_pulse_v1_SspReportRow, _pulse_v1_SspReportRow__Output>
      ValueSource: EnumTypeDefinition
    }
  }
}

