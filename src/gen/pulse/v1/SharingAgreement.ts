// Original file: proto/pulse/v1/targeting.proto


export interface SharingAgreement {
  'partner'?: (string);
  /**
   * Every segment, present and future.
   */
  'all'?: (boolean);
  'segmentIds'?: (string)[];
}

export interface SharingAgreement__Output {
  'partner': (string);
  /**
   * Every segment, present and future.
   */
  'all': (boolean);
  'segmentIds': (string)[];
}
