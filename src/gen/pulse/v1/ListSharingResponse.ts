// Original file: proto/pulse/v1/targeting.proto

import type { SharingAgreement as _pulse_v1_SharingAgreement, SharingAgreement__Output as _pulse_v1_SharingAgreement__Output } from '../../pulse/v1/SharingAgreement.js';

export interface ListSharingResponse {
  'agreements'?: (_pulse_v1_SharingAgreement)[];
}

export interface ListSharingResponse__Output {
  'agreements': (_pulse_v1_SharingAgreement__Output)[];
}
