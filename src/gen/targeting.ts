import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AudienceAnswer as _pulse_v1_AudienceAnswer, AudienceAnswer__Output as _pulse_v1_AudienceAnswer__Output } from './pulse/v1/AudienceAnswer.js';
import type { AudienceLookup as _pulse_v1_AudienceLookup, AudienceLookup__Output as _pulse_v1_AudienceLookup__Output } from './pulse/v1/AudienceLookup.js';
import type { AudienceSegment as _pulse_v1_AudienceSegment, AudienceSegment__Output as _pulse_v1_AudienceSegment__Output } from './pulse/v1/AudienceSegment.js';
import type { BatchGetAudienceRequest as _pulse_v1_BatchGetAudienceRequest, BatchGetAudienceRequest__Output as _pulse_v1_BatchGetAudienceRequest__Output } from './pulse/v1/BatchGetAudienceRequest.js';
import type { BatchGetAudienceResponse as _pulse_v1_BatchGetAudienceResponse, BatchGetAudienceResponse__Output as _pulse_v1_BatchGetAudienceResponse__Output } from './pulse/v1/BatchGetAudienceResponse.js';
import type { DataSharingServiceClient as _pulse_v1_DataSharingServiceClient, DataSharingServiceDefinition as _pulse_v1_DataSharingServiceDefinition } from './pulse/v1/DataSharingService.js';
import type { EnrichBidRequestRequest as _pulse_v1_EnrichBidRequestRequest, EnrichBidRequestRequest__Output as _pulse_v1_EnrichBidRequestRequest__Output } from './pulse/v1/EnrichBidRequestRequest.js';
import type { EnrichBidRequestResponse as _pulse_v1_EnrichBidRequestResponse, EnrichBidRequestResponse__Output as _pulse_v1_EnrichBidRequestResponse__Output } from './pulse/v1/EnrichBidRequestResponse.js';
import type { GetAudienceRequest as _pulse_v1_GetAudienceRequest, GetAudienceRequest__Output as _pulse_v1_GetAudienceRequest__Output } from './pulse/v1/GetAudienceRequest.js';
import type { GetAudienceResponse as _pulse_v1_GetAudienceResponse, GetAudienceResponse__Output as _pulse_v1_GetAudienceResponse__Output } from './pulse/v1/GetAudienceResponse.js';
import type { Identifier as _pulse_v1_Identifier, Identifier__Output as _pulse_v1_Identifier__Output } from './pulse/v1/Identifier.js';
import type { ListSharingRequest as _pulse_v1_ListSharingRequest, ListSharingRequest__Output as _pulse_v1_ListSharingRequest__Output } from './pulse/v1/ListSharingRequest.js';
import type { ListSharingResponse as _pulse_v1_ListSharingResponse, ListSharingResponse__Output as _pulse_v1_ListSharingResponse__Output } from './pulse/v1/ListSharingResponse.js';
import type { SetSegmentTaxonomyRequest as _pulse_v1_SetSegmentTaxonomyRequest, SetSegmentTaxonomyRequest__Output as _pulse_v1_SetSegmentTaxonomyRequest__Output } from './pulse/v1/SetSegmentTaxonomyRequest.js';
import type { SetSegmentTaxonomyResponse as _pulse_v1_SetSegmentTaxonomyResponse, SetSegmentTaxonomyResponse__Output as _pulse_v1_SetSegmentTaxonomyResponse__Output } from './pulse/v1/SetSegmentTaxonomyResponse.js';
import type { SetSharingRequest as _pulse_v1_SetSharingRequest, SetSharingRequest__Output as _pulse_v1_SetSharingRequest__Output } from './pulse/v1/SetSharingRequest.js';
import type { SharingAgreement as _pulse_v1_SharingAgreement, SharingAgreement__Output as _pulse_v1_SharingAgreement__Output } from './pulse/v1/SharingAgreement.js';
import type { TargetingServiceClient as _pulse_v1_TargetingServiceClient, TargetingServiceDefinition as _pulse_v1_TargetingServiceDefinition } from './pulse/v1/TargetingService.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  pulse: {
    v1: {
      AudienceAnswer: MessageTypeDefinition<_pulse_v1_AudienceAnswer, _pulse_v1_AudienceAnswer__Output>
      AudienceLookup: MessageTypeDefinition<_pulse_v1_AudienceLookup, _pulse_v1_AudienceLookup__Output>
      AudienceSegment: MessageTypeDefinition<_pulse_v1_AudienceSegment, _pulse_v1_AudienceSegment__Output>
      BatchGetAudienceRequest: MessageTypeDefinition<_pulse_v1_BatchGetAudienceRequest, _pulse_v1_BatchGetAudienceRequest__Output>
      BatchGetAudienceResponse: MessageTypeDefinition<_pulse_v1_BatchGetAudienceResponse, _pulse_v1_BatchGetAudienceResponse__Output>
      /**
       * Data-sharing agreements: which of a tenant's segments each partner may receive. Requires
       * scope `admin`. Every change is recorded in the warehouse table `sharing_audit` and published
       * on `<namespace>.changes.<tenant>.sharing`.
       */
      DataSharingService: SubtypeConstructor<typeof grpc.Client, _pulse_v1_DataSharingServiceClient> & { service: _pulse_v1_DataSharingServiceDefinition }
      EnrichBidRequestRequest: MessageTypeDefinition<_pulse_v1_EnrichBidRequestRequest, _pulse_v1_EnrichBidRequestRequest__Output>
      EnrichBidRequestResponse: MessageTypeDefinition<_pulse_v1_EnrichBidRequestResponse, _pulse_v1_EnrichBidRequestResponse__Output>
      GetAudienceRequest: MessageTypeDefinition<_pulse_v1_GetAudienceRequest, _pulse_v1_GetAudienceRequest__Output>
      GetAudienceResponse: MessageTypeDefinition<_pulse_v1_GetAudienceResponse, _pulse_v1_GetAudienceResponse__Output>
      Identifier: MessageTypeDefinition<_pulse_v1_Identifier, _pulse_v1_Identifier__Output>
      ListSharingRequest: MessageTypeDefinition<_pulse_v1_ListSharingRequest, _pulse_v1_ListSharingRequest__Output>
      ListSharingResponse: MessageTypeDefinition<_pulse_v1_ListSharingResponse, _pulse_v1_ListSharingResponse__Output>
      SetSegmentTaxonomyRequest: MessageTypeDefinition<_pulse_v1_SetSegmentTaxonomyRequest, _pulse_v1_SetSegmentTaxonomyRequest__Output>
      SetSegmentTaxonomyResponse: MessageTypeDefinition<_pulse_v1_SetSegmentTaxonomyResponse, _pulse_v1_SetSegmentTaxonomyResponse__Output>
      SetSharingRequest: MessageTypeDefinition<_pulse_v1_SetSharingRequest, _pulse_v1_SetSharingRequest__Output>
      SharingAgreement: MessageTypeDefinition<_pulse_v1_SharingAgreement, _pulse_v1_SharingAgreement__Output>
      /**
       * Real-time audience lookups for bidders. Requires scope `targeting:read`. A key that belongs to
       * a partner sees only the segments its tenant shares with that partner (DataSharingService),
       * and only when the partner's IAB vendor id has consent for the tenant's required purposes in
       * the TC string of the request, or else the one stored on the profile.
       */
      TargetingService: SubtypeConstructor<typeof grpc.Client, _pulse_v1_TargetingServiceClient> & { service: _pulse_v1_TargetingServiceDefinition }
    }
  }
}

