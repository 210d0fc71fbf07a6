// Original file: proto/pulse/v1/inventory.proto


export interface ListInventoryRequest {
}

export interface ListInventoryRequest__Output {
}
