// Original file: proto/pulse/v1/profile.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { GetProfileRequest as _pulse_v1_GetProfileRequest, GetProfileRequest__Output as _pulse_v1_GetProfileRequest__Output } from '../../pulse/v1/GetProfileRequest.js';
import type { Profile as _pulse_v1_Profile, Profile__Output as _pulse_v1_Profile__Output } from '../../pulse/v1/Profile.js';

/**
 * Profiles built from events. Requires scope `profiles:read`.
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
  
}

/**
 * Profiles built from events. Requires scope `profiles:read`.
 */
export interface ProfileServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * The profile of the person behind any of the identifiers; NOT_FOUND when none matches.
   */
  GetProfile: grpc.handleUnaryCall<_pulse_v1_GetProfileRequest__Output, _pulse_v1_Profile>;
  
}

export interface ProfileServiceDefinition extends grpc.ServiceDefinition {
  GetProfile: MethodDefinition<_pulse_v1_GetProfileRequest, _pulse_v1_Profile, _pulse_v1_GetProfileRequest__Output, _pulse_v1_Profile__Output>
}
