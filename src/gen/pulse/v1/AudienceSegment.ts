// Original file: proto/pulse/v1/targeting.proto


export interface AudienceSegment {
  'id'?: (string);
  'name'?: (string);
}

export interface AudienceSegment__Output {
  'id': (string);
  'name': (string);
}
