// Ceiling of the activation phase (child process): grpc-js serving pulse.v1.TargetingService with
// no work at all (no auth, no lookup): GetAudience and EnrichBidRequest answer an empty response,
// BatchGetAudience answers every message with an empty message. Prints {"port": N} once
// listening; exits on SIGTERM or when stdin closes (the bench died).
import * as grpc from '@grpc/grpc-js';
import { serveChild } from './grpc-child.ts';
import { loadPulseGrpc } from '../src/infra/proto.ts';
import type { BatchGetAudienceRequest__Output } from '../src/gen/pulse/v1/BatchGetAudienceRequest.ts';
import type { BatchGetAudienceResponse } from '../src/gen/pulse/v1/BatchGetAudienceResponse.ts';
import type { EnrichBidRequestRequest__Output } from '../src/gen/pulse/v1/EnrichBidRequestRequest.ts';
import type { EnrichBidRequestResponse } from '../src/gen/pulse/v1/EnrichBidRequestResponse.ts';
import type { GetAudienceRequest__Output } from '../src/gen/pulse/v1/GetAudienceRequest.ts';
import type { GetAudienceResponse } from '../src/gen/pulse/v1/GetAudienceResponse.ts';

const server = new grpc.Server();
const getAudience: grpc.handleUnaryCall<GetAudienceRequest__Output, GetAudienceResponse> = (_call, callback) => callback(null, {});
const enrich: grpc.handleUnaryCall<EnrichBidRequestRequest__Output, EnrichBidRequestResponse> = (_call, callback) => callback(null, {});
const batch: grpc.handleBidiStreamingCall<BatchGetAudienceRequest__Output, BatchGetAudienceResponse> = (call) => {
  call.on('data', () => call.write({}));
  call.on('end', () => call.end());
  call.on('error', () => undefined);
};
const handlers: grpc.UntypedServiceImplementation = { GetAudience: getAudience, EnrichBidRequest: enrich, BatchGetAudience: batch };
server.addService(loadPulseGrpc().pulse.v1.TargetingService.service, handlers);
serveChild(server);
