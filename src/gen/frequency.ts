import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp.js';
import type { CapStatus as _pulse_v1_CapStatus, CapStatus__Output as _pulse_v1_CapStatus__Output } from './pulse/v1/CapStatus.js';
import type { CheckCapsRequest as _pulse_v1_CheckCapsRequest, CheckCapsRequest__Output as _pulse_v1_CheckCapsRequest__Output } from './pulse/v1/CheckCapsRequest.js';
import type { CheckCapsResponse as _pulse_v1_CheckCapsResponse, CheckCapsResponse__Output as _pulse_v1_CheckCapsResponse__Output } from './pulse/v1/CheckCapsResponse.js';
import type { DeleteCapRequest as _pulse_v1_DeleteCapRequest, DeleteCapRequest__Output as _pulse_v1_DeleteCapRequest__Output } from './pulse/v1/DeleteCapRequest.js';
import type { DeleteCapResponse as _pulse_v1_DeleteCapResponse, DeleteCapResponse__Output as _pulse_v1_DeleteCapResponse__Output } from './pulse/v1/DeleteCapResponse.js';
import type { FrequencyCap as _pulse_v1_FrequencyCap, FrequencyCap__Output as _pulse_v1_FrequencyCap__Output } from './pulse/v1/FrequencyCap.js';
import type { FrequencyServiceClient as _pulse_v1_FrequencyServiceClient, FrequencyServiceDefinition as _pulse_v1_FrequencyServiceDefinition } from './pulse/v1/FrequencyService.js';
import type { Identifier as _pulse_v1_Identifier, Identifier__Output as _pulse_v1_Identifier__Output } from './pulse/v1/Identifier.js';
import type { ListCapsRequest as _pulse_v1_ListCapsRequest, ListCapsRequest__Output as _pulse_v1_ListCapsRequest__Output } from './pulse/v1/ListCapsRequest.js';
import type { ListCapsResponse as _pulse_v1_ListCapsResponse, ListCapsResponse__Output as _pulse_v1_ListCapsResponse__Output } from './pulse/v1/ListCapsResponse.js';

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
      CapScope: EnumTypeDefinition
      CapStatus: MessageTypeDefinition<_pulse_v1_CapStatus, _pulse_v1_CapStatus__Output>
      CheckCapsRequest: MessageTypeDefinition<_pulse_v1_CheckCapsRequest, _pulse_v1_CheckCapsRequest__Output>
      CheckCapsResponse: MessageTypeDefinition<_pulse_v1_CheckCapsResponse, _pulse_v1_CheckCapsResponse__Output>
      DeleteCapRequest: MessageTypeDefinition<_pulse_v1_DeleteCapRequest, _pulse_v1_DeleteCapRequest__Output>
      DeleteCapResponse: MessageTypeDefinition<_pulse_v1_DeleteCapResponse, _pulse_v1_DeleteCapResponse__Output>
      FrequencyCap: MessageTypeDefinition<_pulse_v1_FrequencyCap, _pulse_v1_FrequencyCap__Output>
      /**
       * Frequency caps per campaign or creative per person, across devices and channels. SetCap, ListCaps
       * and DeleteCap require scope `admin`; CheckCaps requires `targeting:read`. Impressions are counted
       * from OutcomeService.ReportOutcomes, once per impression id.
       */
      FrequencyService: SubtypeConstructor<typeof grpc.Client, _pulse_v1_FrequencyServiceClient> & { service: _pulse_v1_FrequencyServiceDefinition }
      Identifier: MessageTypeDefinition<_pulse_v1_Identifier, _pulse_v1_Identifier__Output>
      ListCapsRequest: MessageTypeDefinition<_pulse_v1_ListCapsRequest, _pulse_v1_ListCapsRequest__Output>
      ListCapsResponse: MessageTypeDefinition<_pulse_v1_ListCapsResponse, _pulse_v1_ListCapsResponse__Output>
    }
  }
}

