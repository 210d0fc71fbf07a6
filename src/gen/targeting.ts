import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { AudienceSegment as _pulse_v1_AudienceSegment, AudienceSegment__Output as _pulse_v1_AudienceSegment__Output } from './pulse/v1/AudienceSegment.js';
import type { GetAudienceRequest as _pulse_v1_GetAudienceRequest, GetAudienceRequest__Output as _pulse_v1_GetAudienceRequest__Output } from './pulse/v1/GetAudienceRequest.js';
import type { GetAudienceResponse as _pulse_v1_GetAudienceResponse, GetAudienceResponse__Output as _pulse_v1_GetAudienceResponse__Output } from './pulse/v1/GetAudienceResponse.js';
import type { Identifier as _pulse_v1_Identifier, Identifier__Output as _pulse_v1_Identifier__Output } from './pulse/v1/Identifier.js';
import type { TargetingServiceClient as _pulse_v1_TargetingServiceClient, TargetingServiceDefinition as _pulse_v1_TargetingServiceDefinition } from './pulse/v1/TargetingService.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  pulse: {
    v1: {
      AudienceSegment: MessageTypeDefinition<_pulse_v1_AudienceSegment, _pulse_v1_AudienceSegment__Output>
      GetAudienceRequest: MessageTypeDefinition<_pulse_v1_GetAudienceRequest, _pulse_v1_GetAudienceRequest__Output>
      GetAudienceResponse: MessageTypeDefinition<_pulse_v1_GetAudienceResponse, _pulse_v1_GetAudienceResponse__Output>
      Identifier: MessageTypeDefinition<_pulse_v1_Identifier, _pulse_v1_Identifier__Output>
      /**
       * Real-time audience lookups for bidders. Requires scope `targeting:read`.
       */
      TargetingService: SubtypeConstructor<typeof grpc.Client, _pulse_v1_TargetingServiceClient> & { service: _pulse_v1_TargetingServiceDefinition }
    }
  }
}

