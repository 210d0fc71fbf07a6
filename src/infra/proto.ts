import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType as FrequencyProto } from '../gen/frequency.ts';
import type { ProtoGrpcType as IngestProto } from '../gen/ingest.ts';
import type { ProtoGrpcType as InventoryProto } from '../gen/inventory.ts';
import type { ProtoGrpcType as OutcomesProto } from '../gen/outcomes.ts';
import type { ProtoGrpcType as ProfileProto } from '../gen/profile.ts';
import type { ProtoGrpcType as SegmentProto } from '../gen/segment.ts';
import type { ProtoGrpcType as TargetingProto } from '../gen/targeting.ts';

/** The folder holding proto/pulse/v1/*.proto. */
export const PROTO_DIR = fileURLToPath(new URL('../../proto', import.meta.url));

/** Files of the public contract. */
export const PROTO_FILES = ['pulse/v1/common.proto', 'pulse/v1/targeting.proto', 'pulse/v1/profile.proto', 'pulse/v1/segment.proto', 'pulse/v1/event.proto', 'pulse/v1/ingest.proto', 'pulse/v1/outcomes.proto', 'pulse/v1/frequency.proto', 'pulse/v1/inventory.proto'];

/** Loader options shared by server, clients and the type generator (ops/gen.mjs). */
export const LOADER_OPTIONS: protoLoader.Options = {
  longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [PROTO_DIR],
};

/** The loaded package definition (for the server, reflection and clients). */
export function loadPackageDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(PROTO_FILES, LOADER_OPTIONS);
}

/** Typed gRPC constructors of the pulse.v1 services. */
export type PulseGrpc = TargetingProto & ProfileProto & SegmentProto & IngestProto & OutcomesProto & FrequencyProto & InventoryProto;

/** Service constructors, typed from the generated src/gen. */
export function loadPulseGrpc(definition = loadPackageDefinition()): PulseGrpc {
  return grpc.loadPackageDefinition(definition) as unknown as PulseGrpc;
}
