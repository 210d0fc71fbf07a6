// Original file: proto/pulse/v1/targeting.proto


export interface SetSegmentTaxonomyResponse {
}

export interface SetSegmentTaxonomyResponse__Output {
}
