// Original file: proto/pulse/v1/common.proto


/**
 * An identifier of a person or device. `type` is one of: user_id, anonymous_id, email_sha256,
 * phone_sha256, idfa, gaid, cookie, or a partner uid written `partner:<name>`.
 */
export interface Identifier {
  'type'?: (string);
  'id'?: (string);
}

/**
 * An identifier of a person or device. `type` is one of: user_id, anonymous_id, email_sha256,
 * phone_sha256, idfa, gaid, cookie, or a partner uid written `partner:<name>`.
 */
export interface Identifier__Output {
  'type': (string);
  'id': (string);
}
