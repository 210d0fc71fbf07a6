// Original file: proto/pulse/v1/segment.proto


export interface ListSegmentsRequest {
}

export interface ListSegmentsRequest__Output {
}
