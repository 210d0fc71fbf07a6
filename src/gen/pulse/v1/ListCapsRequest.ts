// Original file: proto/pulse/v1/frequency.proto


export interface ListCapsRequest {
}

export interface ListCapsRequest__Output {
}
