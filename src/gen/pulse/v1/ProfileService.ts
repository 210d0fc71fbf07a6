// Original file: proto/pulse/v1/profile.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { GetProfileRequest as _pulse_v1_GetProfileRequest, GetProfileRequest__Output as _pulse_v1_GetProfileRequest__Output } from '../../pulse/v1/GetProfileRequest.js';
import type { Profile as _pulse_v1_Profile, Profile__Output as _pulse_v1_Profile__Output } from '../../pulse/v1/Profile.js';
import type { UpdateProfileRequest as _pulse_v1_UpdateProfileRequest, UpdateProfileRequest__Output as _pulse_v1_UpdateProfileRequest__Output } from '../../pulse/v1/UpdateProfileRequest.js';
import type { UpdateProfileResponse as _pulse_v1_UpdateProfileResponse, UpdateProfileResponse__Output as _pulse_v1_UpdateProfileResponse__Output } from '../../pulse/v1/UpdateProfileResponse.js';

/**
 * Profiles built from events. Requires scope `profiles:read` (UpdateProfile: `profiles:write`).
 */
export interface ProfileServiceClient extends grpc.Client {
  /**
   * The profile of the person behind any of the identifiers; NOT_FOUND when none matches.
   */
  GetProfile(argument: _pulse_v1_GetProfileRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Profile__Output>): grpc.ClientUnaryCall;
  GetProfile(argument: _pulse_v1_GetProfileRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_Profile__Output>): grpc.ClientUnaryCall;
  GetProfile(argument: _pulse_v1_GetProfileRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Profile__Output>): grpc.ClientUnaryCall;
  GetProfile(argument: _pulse_v1_GetProfileRequest, callback: grpc.requestCallback<_pulse_v1_Profile__Output>): grpc.ClientUnaryCall;
  /**
   * The profile of the person behind any of the identifiers; NOT_FOUND when none matches.
   */
  getProfile(argument: _pulse_v1_GetProfileRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Profile__Output>): grpc.ClientUnaryCall;
  getProfile(argument: _pulse_v1_GetProfileRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_Profile__Output>): grpc.ClientUnaryCall;
  getProfile(argument: _pulse_v1_GetProfileRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_Profile__Output>): grpc.ClientUnaryCall;
  getProfile(argument: _pulse_v1_GetProfileRequest, callback: grpc.requestCallback<_pulse_v1_Profile__Output>): grpc.ClientUnaryCall;
  
  /**
   * Sets traits with provenance: published as an identify event (context.source, context.keyId)
   * that the processor applies like any other, under the tenant's trait policies. Answers once the
   * event is stored in the log; GetProfile shows it as soon as the processor applied it.
   */
  UpdateProfile(argument: _pulse_v1_UpdateProfileRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_UpdateProfileResponse__Output>): grpc.ClientUnaryCall;
  UpdateProfile(argument: _pulse_v1_UpdateProfileRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_UpdateProfileResponse__Output>): grpc.ClientUnaryCall;
  UpdateProfile(argument: _pulse_v1_UpdateProfileRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_UpdateProfileResponse__Output>): grpc.ClientUnaryCall;
  UpdateProfile(argument: _pulse_v1_UpdateProfileRequest, callback: grpc.requestCallback<_pulse_v1_UpdateProfileResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Sets traits with provenance: published as an identify event (context.source, context.keyId)
   * that the processor applies like any other, under the tenant's trait policies. Answers once the
   * event is stored in the log; GetProfile shows it as soon as the processor applied it.
   */
  updateProfile(argument: _pulse_v1_UpdateProfileRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_UpdateProfileResponse__Output>): grpc.ClientUnaryCall;
  updateProfile(argument: _pulse_v1_UpdateProfileRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_UpdateProfileResponse__Output>): grpc.ClientUnaryCall;
  updateProfile(argument: _pulse_v1_UpdateProfileRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_UpdateProfileResponse__Output>): grpc.ClientUnaryCall;
  updateProfile(argument: _pulse_v1_UpdateProfileRequest, callback: grpc.requestCallback<_pulse_v1_UpdateProfileResponse__Output>): grpc.ClientUnaryCall;
  
}

/**
 * Profiles built from events. Requires scope `profiles:read` (UpdateProfile: `profiles:write`).
 */
export interface ProfileServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * The profile of the person behind any of the identifiers; NOT_FOUND when none matches.
   */
  GetProfile: grpc.handleUnaryCall<_pulse_v1_GetProfileRequest__Output, _pulse_v1_Profile>;
  
  /**
   * Sets traits with provenance: published as an identify event (context.source, context.keyId)
   * that the processor applies like any other, under the tenant's trait policies. Answers once the
   * event is stored in the log; GetProfile shows it as soon as the processor applied it.
   */
  UpdateProfile: grpc.handleUnaryCall<_pulse_v1_UpdateProfileRequest__Output, _pulse_v1_UpdateProfileResponse>;
  
}

export interface ProfileServiceDefinition extends grpc.ServiceDefinition {
  GetProfile: MethodDefinition<_pulse_v1_GetProfileRequest, _pulse_v1_Profile, _pulse_v1_GetProfileRequest__Output, _pulse_v1_Profile__Output>
  UpdateProfile: MethodDefinition<_pulse_v1_UpdateProfileRequest, _pulse_v1_UpdateProfileResponse, _pulse_v1_UpdateProfileRequest__Output, _pulse_v1_UpdateProfileResponse__Output>
}
