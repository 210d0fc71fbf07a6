// Original file: proto/pulse/v1/targeting.proto


export interface ListSharingRequest {
}

export interface ListSharingRequest__Output {
}
