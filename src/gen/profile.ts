import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { ListValue as _google_protobuf_ListValue, ListValue__Output as _google_protobuf_ListValue__Output } from './google/protobuf/ListValue.js';
import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from './google/protobuf/Struct.js';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp.js';
import type { Value as _google_protobuf_Value, Value__Output as _google_protobuf_Value__Output } from './google/protobuf/Value.js';
import type { GetProfileRequest as _pulse_v1_GetProfileRequest, GetProfileRequest__Output as _pulse_v1_GetProfileRequest__Output } from './pulse/v1/GetProfileRequest.js';
import type { Identifier as _pulse_v1_Identifier, Identifier__Output as _pulse_v1_Identifier__Output } from './pulse/v1/Identifier.js';
import type { Profile as _pulse_v1_Profile, Profile__Output as _pulse_v1_Profile__Output } from './pulse/v1/Profile.js';
import type { ProfileServiceClient as _pulse_v1_ProfileServiceClient, ProfileServiceDefinition as _pulse_v1_ProfileServiceDefinition } from './pulse/v1/ProfileService.js';
import type { UnmergeProfileRequest as _pulse_v1_UnmergeProfileRequest, UnmergeProfileRequest__Output as _pulse_v1_UnmergeProfileRequest__Output } from './pulse/v1/UnmergeProfileRequest.js';
import type { UnmergeProfileResponse as _pulse_v1_UnmergeProfileResponse, UnmergeProfileResponse__Output as _pulse_v1_UnmergeProfileResponse__Output } from './pulse/v1/UnmergeProfileResponse.js';
import type { UnmergeSegmentChange as _pulse_v1_UnmergeSegmentChange, UnmergeSegmentChange__Output as _pulse_v1_UnmergeSegmentChange__Output } from './pulse/v1/UnmergeSegmentChange.js';
import type { UpdateProfileRequest as _pulse_v1_UpdateProfileRequest, UpdateProfileRequest__Output as _pulse_v1_UpdateProfileRequest__Output } from './pulse/v1/UpdateProfileRequest.js';
import type { UpdateProfileResponse as _pulse_v1_UpdateProfileResponse, UpdateProfileResponse__Output as _pulse_v1_UpdateProfileResponse__Output } from './pulse/v1/UpdateProfileResponse.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  google: {
    protobuf: {
      ListValue: MessageTypeDefinition<_google_protobuf_ListValue, _google_protobuf_ListValue__Output>
      NullValue: EnumTypeDefinition
      Struct: MessageTypeDefinition<_google_protobuf_Struct, _google_protobuf_Struct__Output>
      Timestamp: MessageTypeDefinition<_google_protobuf_Timestamp, _google_protobuf_Timestamp__Output>
      Value: MessageTypeDefinition<_google_protobuf_Value, _google_protobuf_Value__Output>
    }
  }
  pulse: {
    v1: {
      GetProfileRequest: MessageTypeDefinition<_pulse_v1_GetProfileRequest, _pulse_v1_GetProfileRequest__Output>
      Identifier: MessageTypeDefinition<_pulse_v1_Identifier, _pulse_v1_Identifier__Output>
      Profile: MessageTypeDefinition<_pulse_v1_Profile, _pulse_v1_Profile__Output>
      /**
       * Profiles built from events. Requires scope `profiles:read` (UpdateProfile and UnmergeProfile:
       * `profiles:write`).
       */
      ProfileService: SubtypeConstructor<typeof grpc.Client, _pulse_v1_ProfileServiceClient> & { service: _pulse_v1_ProfileServiceDefinition }
      UnmergeProfileRequest: MessageTypeDefinition<_pulse_v1_UnmergeProfileRequest, _pulse_v1_UnmergeProfileRequest__Output>
      UnmergeProfileResponse: MessageTypeDefinition<_pulse_v1_UnmergeProfileResponse, _pulse_v1_UnmergeProfileResponse__Output>
      UnmergeSegmentChange: MessageTypeDefinition<_pulse_v1_UnmergeSegmentChange, _pulse_v1_UnmergeSegmentChange__Output>
      UpdateProfileRequest: MessageTypeDefinition<_pulse_v1_UpdateProfileRequest, _pulse_v1_UpdateProfileRequest__Output>
      UpdateProfileResponse: MessageTypeDefinition<_pulse_v1_UpdateProfileResponse, _pulse_v1_UpdateProfileResponse__Output>
    }
  }
}

