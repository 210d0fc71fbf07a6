// Original file: proto/pulse/v1/profile.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { GetProfileRequest as _pulse_v1_GetProfileRequest, GetProfileRequest__Output as _pulse_v1_GetProfileRequest__Output } from '../../pulse/v1/GetProfileRequest.js';
import type { Profile as _pulse_v1_Profile, Profile__Output as _pulse_v1_Profile__Output } from '../../pulse/v1/Profile.js';
import type { UnmergeProfileRequest as _pulse_v1_UnmergeProfileRequest, UnmergeProfileRequest__Output as _pulse_v1_UnmergeProfileRequest__Output } from '../../pulse/v1/UnmergeProfileRequest.js';
import type { UnmergeProfileResponse as _pulse_v1_UnmergeProfileResponse, UnmergeProfileResponse__Output as _pulse_v1_UnmergeProfileResponse__Output } from '../../pulse/v1/UnmergeProfileResponse.js';
import type { UpdateProfileRequest as _pulse_v1_UpdateProfileRequest, UpdateProfileRequest__Output as _pulse_v1_UpdateProfileRequest__Output } from '../../pulse/v1/UpdateProfileRequest.js';
import type { UpdateProfileResponse as _pulse_v1_UpdateProfileResponse, UpdateProfileResponse__Output as _pulse_v1_UpdateProfileResponse__Output } from '../../pulse/v1/UpdateProfileResponse.js';

/**
 * Profiles built from events. Requires scope `profiles:read` (UpdateProfile and UnmergeProfile:
 * `profiles:write`).
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
   * Undoes a wrong merge: the `split` identifiers leave the profile for a new profile, and both are
   * rebuilt from the events in the warehouse (the profile's own and those of every profile merged
   * into it): traits under the trait policies, counts, computed traits, event features and segment
   * membership (enter/exit published as usual). Each event goes to the side of its first identifier
   * (in lookup priority) that either side holds. The two profiles never merge again: an event that
   * carries identifiers of both is applied to one and the link is refused with reason `unmerged`.
   * The unmerge is recorded in `profile_merges` (outcome `unmerged`) and published on
   * `<namespace>.changes.<tenant>.profile` as `{"kind": "unmerge", ...}`; events that moved are
   * stored under the new profile id from then on. Events applied to the profile while it is rebuilt
   * are not lost: the rebuild is redone until no event came in between (UNAVAILABLE after several
   * tries on a profile that never rests). NOT_FOUND: no profile has the identifiers;
   * FAILED_PRECONDITION: a split identifier is not the profile's, all of them would leave, or the
   * warehouse does not hold every event the profile counted (see allow_partial_history).
   */
  UnmergeProfile(argument: _pulse_v1_UnmergeProfileRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_UnmergeProfileResponse__Output>): grpc.ClientUnaryCall;
  UnmergeProfile(argument: _pulse_v1_UnmergeProfileRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_UnmergeProfileResponse__Output>): grpc.ClientUnaryCall;
  UnmergeProfile(argument: _pulse_v1_UnmergeProfileRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_UnmergeProfileResponse__Output>): grpc.ClientUnaryCall;
  UnmergeProfile(argument: _pulse_v1_UnmergeProfileRequest, callback: grpc.requestCallback<_pulse_v1_UnmergeProfileResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Undoes a wrong merge: the `split` identifiers leave the profile for a new profile, and both are
   * rebuilt from the events in the warehouse (the profile's own and those of every profile merged
   * into it): traits under the trait policies, counts, computed traits, event features and segment
   * membership (enter/exit published as usual). Each event goes to the side of its first identifier
   * (in lookup priority) that either side holds. The two profiles never merge again: an event that
   * carries identifiers of both is applied to one and the link is refused with reason `unmerged`.
   * The unmerge is recorded in `profile_merges` (outcome `unmerged`) and published on
   * `<namespace>.changes.<tenant>.profile` as `{"kind": "unmerge", ...}`; events that moved are
   * stored under the new profile id from then on. Events applied to the profile while it is rebuilt
   * are not lost: the rebuild is redone until no event came in between (UNAVAILABLE after several
   * tries on a profile that never rests). NOT_FOUND: no profile has the identifiers;
   * FAILED_PRECONDITION: a split identifier is not the profile's, all of them would leave, or the
   * warehouse does not hold every event the profile counted (see allow_partial_history).
   */
  unmergeProfile(argument: _pulse_v1_UnmergeProfileRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_UnmergeProfileResponse__Output>): grpc.ClientUnaryCall;
  unmergeProfile(argument: _pulse_v1_UnmergeProfileRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_UnmergeProfileResponse__Output>): grpc.ClientUnaryCall;
  unmergeProfile(argument: _pulse_v1_UnmergeProfileRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_UnmergeProfileResponse__Output>): grpc.ClientUnaryCall;
  unmergeProfile(argument: _pulse_v1_UnmergeProfileRequest, callback: grpc.requestCallback<_pulse_v1_UnmergeProfileResponse__Output>): grpc.ClientUnaryCall;
  
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
 * Profiles built from events. Requires scope `profiles:read` (UpdateProfile and UnmergeProfile:
 * `profiles:write`).
 */
export interface ProfileServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * The profile of the person behind any of the identifiers; NOT_FOUND when none matches.
   */
  GetProfile: grpc.handleUnaryCall<_pulse_v1_GetProfileRequest__Output, _pulse_v1_Profile>;
  
  /**
   * Undoes a wrong merge: the `split` identifiers leave the profile for a new profile, and both are
   * rebuilt from the events in the warehouse (the profile's own and those of every profile merged
   * into it): traits under the trait policies, counts, computed traits, event features and segment
   * membership (enter/exit published as usual). Each event goes to the side of its first identifier
   * (in lookup priority) that either side holds. The two profiles never merge again: an event that
   * carries identifiers of both is applied to one and the link is refused with reason `unmerged`.
   * The unmerge is recorded in `profile_merges` (outcome `unmerged`) and published on
   * `<namespace>.changes.<tenant>.profile` as `{"kind": "unmerge", ...}`; events that moved are
   * stored under the new profile id from then on. Events applied to the profile while it is rebuilt
   * are not lost: the rebuild is redone until no event came in between (UNAVAILABLE after several
   * tries on a profile that never rests). NOT_FOUND: no profile has the identifiers;
   * FAILED_PRECONDITION: a split identifier is not the profile's, all of them would leave, or the
   * warehouse does not hold every event the profile counted (see allow_partial_history).
   */
  UnmergeProfile: grpc.handleUnaryCall<_pulse_v1_UnmergeProfileRequest__Output, _pulse_v1_UnmergeProfileResponse>;
  
  /**
   * Sets traits with provenance: published as an identify event (context.source, context.keyId)
   * that the processor applies like any other, under the tenant's trait policies. Answers once the
   * event is stored in the log; GetProfile shows it as soon as the processor applied it.
   */
  UpdateProfile: grpc.handleUnaryCall<_pulse_v1_UpdateProfileRequest__Output, _pulse_v1_UpdateProfileResponse>;
  
}

export interface ProfileServiceDefinition extends grpc.ServiceDefinition {
  GetProfile: MethodDefinition<_pulse_v1_GetProfileRequest, _pulse_v1_Profile, _pulse_v1_GetProfileRequest__Output, _pulse_v1_Profile__Output>
  UnmergeProfile: MethodDefinition<_pulse_v1_UnmergeProfileRequest, _pulse_v1_UnmergeProfileResponse, _pulse_v1_UnmergeProfileRequest__Output, _pulse_v1_UnmergeProfileResponse__Output>
  UpdateProfile: MethodDefinition<_pulse_v1_UpdateProfileRequest, _pulse_v1_UpdateProfileResponse, _pulse_v1_UpdateProfileRequest__Output, _pulse_v1_UpdateProfileResponse__Output>
}
