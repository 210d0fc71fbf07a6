import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp.js';
import type { Identifier as _pulse_v1_Identifier, Identifier__Output as _pulse_v1_Identifier__Output } from './pulse/v1/Identifier.js';
import type { Outcome as _pulse_v1_Outcome, Outcome__Output as _pulse_v1_Outcome__Output } from './pulse/v1/Outcome.js';
import type { OutcomeResult as _pulse_v1_OutcomeResult, OutcomeResult__Output as _pulse_v1_OutcomeResult__Output } from './pulse/v1/OutcomeResult.js';
import type { OutcomeServiceClient as _pulse_v1_OutcomeServiceClient, OutcomeServiceDefinition as _pulse_v1_OutcomeServiceDefinition } from './pulse/v1/OutcomeService.js';
import type { ReportOutcomesRequest as _pulse_v1_ReportOutcomesRequest, ReportOutcomesRequest__Output as _pulse_v1_ReportOutcomesRequest__Output } from './pulse/v1/ReportOutcomesRequest.js';
import type { ReportOutcomesResponse as _pulse_v1_ReportOutcomesResponse, ReportOutcomesResponse__Output as _pulse_v1_ReportOutcomesResponse__Output } from './pulse/v1/ReportOutcomesResponse.js';

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
      Identifier: MessageTypeDefinition<_pulse_v1_Identifier, _pulse_v1_Identifier__Output>
      Outcome: MessageTypeDefinition<_pulse_v1_Outcome, _pulse_v1_Outcome__Output>
      OutcomeKind: EnumTypeDefinition
      OutcomeResult: MessageTypeDefinition<_pulse_v1_OutcomeResult, _pulse_v1_OutcomeResult__Output>
      /**
       * Auction outcomes reported by bidders and exchanges. Requires scope `outcomes:write`.
       */
      OutcomeService: SubtypeConstructor<typeof grpc.Client, _pulse_v1_OutcomeServiceClient> & { service: _pulse_v1_OutcomeServiceDefinition }
      OutcomeStatus: EnumTypeDefinition
      ReportOutcomesRequest: MessageTypeDefinition<_pulse_v1_ReportOutcomesRequest, _pulse_v1_ReportOutcomesRequest__Output>
      ReportOutcomesResponse: MessageTypeDefinition<_pulse_v1_ReportOutcomesResponse, _pulse_v1_ReportOutcomesResponse__Output>
    }
  }
}

