// Original file: proto/pulse/v1/profile.proto

import type { Identifier as _pulse_v1_Identifier, Identifier__Output as _pulse_v1_Identifier__Output } from '../../pulse/v1/Identifier.js';
import type { UnmergeSegmentChange as _pulse_v1_UnmergeSegmentChange, UnmergeSegmentChange__Output as _pulse_v1_UnmergeSegmentChange__Output } from '../../pulse/v1/UnmergeSegmentChange.js';
import type { Long } from '@grpc/proto-loader';

export interface UnmergeProfileResponse {
  /**
   * The profile that kept its id (and the identifiers not split off).
   */
  'profileId'?: (string);
  /**
   * The new profile, with the split identifiers.
   */
  'splitProfileId'?: (string);
  'profileIdentifiers'?: (_pulse_v1_Identifier)[];
  'splitIdentifiers'?: (_pulse_v1_Identifier)[];
  /**
   * The message_id of the unmerge's `profile_merges` row and change message.
   */
  'unmergeId'?: (string);
  /**
   * Events replayed onto each side, and stored events the tenant's consent policy now refuses.
   */
  'eventsProfile'?: (number | string | Long);
  'eventsSplit'?: (number | string | Long);
  'eventsSkipped'?: (number | string | Long);
  /**
   * Segment membership changes of either profile (also published on the segment change stream).
   */
  'segmentChanges'?: (_pulse_v1_UnmergeSegmentChange)[];
  /**
   * Rebuilds it took (more than one when events arrived meanwhile).
   */
  'attempts'?: (number);
  /**
   * Steps after the split that failed and were logged (the split itself holds).
   */
  'warnings'?: (string)[];
}

export interface UnmergeProfileResponse__Output {
  /**
   * The profile that kept its id (and the identifiers not split off).
   */
  'profileId': (string);
  /**
   * The new profile, with the split identifiers.
   */
  'splitProfileId': (string);
  'profileIdentifiers': (_pulse_v1_Identifier__Output)[];
  'splitIdentifiers': (_pulse_v1_Identifier__Output)[];
  /**
   * The message_id of the unmerge's `profile_merges` row and change message.
   */
  'unmergeId': (string);
  /**
   * Events replayed onto each side, and stored events the tenant's consent policy now refuses.
   */
  'eventsProfile': (string);
  'eventsSplit': (string);
  'eventsSkipped': (string);
  /**
   * Segment membership changes of either profile (also published on the segment change stream).
   */
  'segmentChanges': (_pulse_v1_UnmergeSegmentChange__Output)[];
  /**
   * Rebuilds it took (more than one when events arrived meanwhile).
   */
  'attempts': (number);
  /**
   * Steps after the split that failed and were logged (the split itself holds).
   */
  'warnings': (string)[];
}
