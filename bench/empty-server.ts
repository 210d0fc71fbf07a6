// Ceiling 5 (child process): grpc-js serving pulse.v1.TargetingService/GetAudience with an empty
// response and no work at all (no auth, no lookup). Prints {"port": N} once listening; exits on
// SIGTERM or when stdin closes (the bench died).
import * as grpc from '@grpc/grpc-js';
import { serveChild } from './grpc-child.ts';
import { loadPulseGrpc } from '../src/infra/proto.ts';
import type { GetAudienceRequest__Output } from '../src/gen/pulse/v1/GetAudienceRequest.ts';
import type { GetAudienceResponse } from '../src/gen/pulse/v1/GetAudienceResponse.ts';

const server = new grpc.Server();
// Only GetAudience: the service's other methods answer UNIMPLEMENTED (grpc-js default).
const getAudience: grpc.handleUnaryCall<GetAudienceRequest__Output, GetAudienceResponse> = (_call, callback) => callback(null, {});
const handlers: grpc.UntypedServiceImplementation = { GetAudience: getAudience };
server.addService(loadPulseGrpc().pulse.v1.TargetingService.service, handlers);
serveChild(server);
