// Original file: proto/pulse/v1/targeting.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ListSharingRequest as _pulse_v1_ListSharingRequest, ListSharingRequest__Output as _pulse_v1_ListSharingRequest__Output } from '../../pulse/v1/ListSharingRequest.js';
import type { ListSharingResponse as _pulse_v1_ListSharingResponse, ListSharingResponse__Output as _pulse_v1_ListSharingResponse__Output } from '../../pulse/v1/ListSharingResponse.js';
import type { SetSegmentTaxonomyRequest as _pulse_v1_SetSegmentTaxonomyRequest, SetSegmentTaxonomyRequest__Output as _pulse_v1_SetSegmentTaxonomyRequest__Output } from '../../pulse/v1/SetSegmentTaxonomyRequest.js';
import type { SetSegmentTaxonomyResponse as _pulse_v1_SetSegmentTaxonomyResponse, SetSegmentTaxonomyResponse__Output as _pulse_v1_SetSegmentTaxonomyResponse__Output } from '../../pulse/v1/SetSegmentTaxonomyResponse.js';
import type { SetSharingRequest as _pulse_v1_SetSharingRequest, SetSharingRequest__Output as _pulse_v1_SetSharingRequest__Output } from '../../pulse/v1/SetSharingRequest.js';
import type { SharingAgreement as _pulse_v1_SharingAgreement, SharingAgreement__Output as _pulse_v1_SharingAgreement__Output } from '../../pulse/v1/SharingAgreement.js';

/**
 * Data-sharing agreements: which of a tenant's segments each partner may receive. Requires
 * scope `admin`. Every change is recorded in the warehouse table `sharing_audit` and published
 * on `<namespace>.changes.<tenant>.sharing`.
 */
export interface DataSharingServiceClient extends grpc.Client {
  ListSharing(argument: _pulse_v1_ListSharingRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListSharingResponse__Output>): grpc.ClientUnaryCall;
  ListSharing(argument: _pulse_v1_ListSharingRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_ListSharingResponse__Output>): grpc.ClientUnaryCall;
  ListSharing(argument: _pulse_v1_ListSharingRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListSharingResponse__Output>): grpc.ClientUnaryCall;
  ListSharing(argument: _pulse_v1_ListSharingRequest, callback: grpc.requestCallback<_pulse_v1_ListSharingResponse__Output>): grpc.ClientUnaryCall;
  listSharing(argument: _pulse_v1_ListSharingRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListSharingResponse__Output>): grpc.ClientUnaryCall;
  listSharing(argument: _pulse_v1_ListSharingRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_ListSharingResponse__Output>): grpc.ClientUnaryCall;
  listSharing(argument: _pulse_v1_ListSharingRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_ListSharingResponse__Output>): grpc.ClientUnaryCall;
  listSharing(argument: _pulse_v1_ListSharingRequest, callback: grpc.requestCallback<_pulse_v1_ListSharingResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Maps a segment to a node of IAB Audience Taxonomy 1.1 (empty taxonomy_id removes it); the
   * node goes to partners with the segment (`taxonomy_id`, OpenRTB `segtax` 4).
   */
  SetSegmentTaxonomy(argument: _pulse_v1_SetSegmentTaxonomyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_SetSegmentTaxonomyResponse__Output>): grpc.ClientUnaryCall;
  SetSegmentTaxonomy(argument: _pulse_v1_SetSegmentTaxonomyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_SetSegmentTaxonomyResponse__Output>): grpc.ClientUnaryCall;
  SetSegmentTaxonomy(argument: _pulse_v1_SetSegmentTaxonomyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_SetSegmentTaxonomyResponse__Output>): grpc.ClientUnaryCall;
  SetSegmentTaxonomy(argument: _pulse_v1_SetSegmentTaxonomyRequest, callback: grpc.requestCallback<_pulse_v1_SetSegmentTaxonomyResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Maps a segment to a node of IAB Audience Taxonomy 1.1 (empty taxonomy_id removes it); the
   * node goes to partners with the segment (`taxonomy_id`, OpenRTB `segtax` 4).
   */
  setSegmentTaxonomy(argument: _pulse_v1_SetSegmentTaxonomyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_SetSegmentTaxonomyResponse__Output>): grpc.ClientUnaryCall;
  setSegmentTaxonomy(argument: _pulse_v1_SetSegmentTaxonomyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_SetSegmentTaxonomyResponse__Output>): grpc.ClientUnaryCall;
  setSegmentTaxonomy(argument: _pulse_v1_SetSegmentTaxonomyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_SetSegmentTaxonomyResponse__Output>): grpc.ClientUnaryCall;
  setSegmentTaxonomy(argument: _pulse_v1_SetSegmentTaxonomyRequest, callback: grpc.requestCallback<_pulse_v1_SetSegmentTaxonomyResponse__Output>): grpc.ClientUnaryCall;
  
  SetSharing(argument: _pulse_v1_SetSharingRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_SharingAgreement__Output>): grpc.ClientUnaryCall;
  SetSharing(argument: _pulse_v1_SetSharingRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_SharingAgreement__Output>): grpc.ClientUnaryCall;
  SetSharing(argument: _pulse_v1_SetSharingRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_SharingAgreement__Output>): grpc.ClientUnaryCall;
  SetSharing(argument: _pulse_v1_SetSharingRequest, callback: grpc.requestCallback<_pulse_v1_SharingAgreement__Output>): grpc.ClientUnaryCall;
  setSharing(argument: _pulse_v1_SetSharingRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_SharingAgreement__Output>): grpc.ClientUnaryCall;
  setSharing(argument: _pulse_v1_SetSharingRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_pulse_v1_SharingAgreement__Output>): grpc.ClientUnaryCall;
  setSharing(argument: _pulse_v1_SetSharingRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_pulse_v1_SharingAgreement__Output>): grpc.ClientUnaryCall;
  setSharing(argument: _pulse_v1_SetSharingRequest, callback: grpc.requestCallback<_pulse_v1_SharingAgreement__Output>): grpc.ClientUnaryCall;
  
}

/**
 * Data-sharing agreements: which of a tenant's segments each partner may receive. Requires
 * scope `admin`. Every change is recorded in the warehouse table `sharing_audit` and published
 * on `<namespace>.changes.<tenant>.sharing`.
 */
export interface DataSharingServiceHandlers extends grpc.UntypedServiceImplementation {
  ListSharing: grpc.handleUnaryCall<_pulse_v1_ListSharingRequest__Output, _pulse_v1_ListSharingResponse>;
  
  /**
   * Maps a segment to a node of IAB Audience Taxonomy 1.1 (empty taxonomy_id removes it); the
   * node goes to partners with the segment (`taxonomy_id`, OpenRTB `segtax` 4).
   */
  SetSegmentTaxonomy: grpc.handleUnaryCall<_pulse_v1_SetSegmentTaxonomyRequest__Output, _pulse_v1_SetSegmentTaxonomyResponse>;
  
  SetSharing: grpc.handleUnaryCall<_pulse_v1_SetSharingRequest__Output, _pulse_v1_SharingAgreement>;
  
}

export interface DataSharingServiceDefinition extends grpc.ServiceDefinition {
  ListSharing: MethodDefinition<_pulse_v1_ListSharingRequest, _pulse_v1_ListSharingResponse, _pulse_v1_ListSharingRequest__Output, _pulse_v1_ListSharingResponse__Output>
  SetSegmentTaxonomy: MethodDefinition<_pulse_v1_SetSegmentTaxonomyRequest, _pulse_v1_SetSegmentTaxonomyResponse, _pulse_v1_SetSegmentTaxonomyRequest__Output, _pulse_v1_SetSegmentTaxonomyResponse__Output>
  SetSharing: MethodDefinition<_pulse_v1_SetSharingRequest, _pulse_v1_SharingAgreement, _pulse_v1_SetSharingRequest__Output, _pulse_v1_SharingAgreement__Output>
}
