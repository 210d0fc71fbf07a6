import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import type { KeyRing, Principal, Scope } from '../auth/keys.ts';
import { grpcStatusOf, toPulseError } from '../errors.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import { loadPackageDefinition } from './proto.ts';

/** What every handler wrapper needs. */
export interface HandlerContext {
  readonly keys: KeyRing;
  readonly metrics: Metrics;
  readonly log: Logger;
}

/**
 * Wraps a unary handler: authenticates the bearer key, checks the scope, times the call (the
 * `pulse_grpc_handler_seconds` histogram is the time spent inside Pulse) and maps PulseError to a
 * gRPC status. Causes are logged, never sent to the caller.
 */
export function unary<Req, Res>(
  ctx: HandlerContext, method: string, scope: Scope, fn: (request: Req, principal: Principal) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => serve(ctx, method, scope, call.metadata, (principal) => fn(call.request, principal), callback);
}

/**
 * Wraps a client-streaming handler as `unary` does. The handler reads the requests as an async
 * iterable, one at a time, so a client sending faster than the handler works is held back by
 * HTTP/2 flow control; the handler's result is the response.
 */
export function clientStream<Req, Res>(
  ctx: HandlerContext, method: string, scope: Scope, fn: (requests: AsyncIterable<Req>, principal: Principal) => Promise<Res>,
): grpc.handleClientStreamingCall<Req, Res> {
  return (call, callback) => serve(ctx, method, scope, call.metadata, (principal) => fn(call as AsyncIterable<Req>, principal), callback);
}

function serve<Res>(
  ctx: HandlerContext, method: string, scope: Scope, metadata: grpc.Metadata,
  run: (principal: Principal) => Promise<Res>, callback: grpc.sendUnaryData<Res>,
): void {
  const start = process.hrtime.bigint();
  const done = (code: string) => ctx.metrics.grpcHandlerSeconds.observe({ method, code }, Number(process.hrtime.bigint() - start) / 1e9);
  let principal: Principal;
  try {
    principal = ctx.keys.authorize(metadata.get('authorization')[0]?.toString(), scope);
  } catch (err) {
    const e = toPulseError(err);
    done(e.code);
    callback({ code: grpcStatusOf(e.code), details: e.message });
    return;
  }
  run(principal).then(
    (res) => { done('OK'); callback(null, res); },
    (err: unknown) => {
      const e = toPulseError(err);
      if (e.code === 'INTERNAL' || e.code === 'UNAVAILABLE') ctx.log.error({ err: e.cause ?? e, method, tenant: principal.tenant }, 'call failed');
      done(e.code);
      callback({ code: grpcStatusOf(e.code), details: e.message });
    },
  );
}

/** A started gRPC server with health and reflection. */
export interface GrpcServer {
  readonly port: number;
  readonly health: HealthImplementation;
  /** Stops accepting calls, lets in-flight calls finish (up to `graceMs`), then forces. */
  stop(graceMs: number): Promise<void>;
}

/** Starts the server with the given services; health reports them SERVING. */
export async function startGrpcServer(
  host: string, port: number, services: readonly { name: string; definition: grpc.ServiceDefinition; handlers: grpc.UntypedServiceImplementation }[],
): Promise<GrpcServer> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
  const statuses: Record<string, ServingStatus> = { '': 'SERVING' };
  for (const s of services) {
    server.addService(s.definition, s.handlers);
    statuses[s.name] = 'SERVING';
  }
  const health = new HealthImplementation(statuses);
  health.addToServer(server);
  new ReflectionService(loadPackageDefinition()).addToServer(server);
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return {
    port: bound,
    health,
    stop: (graceMs) => new Promise<void>((resolve) => {
      for (const name of Object.keys(statuses)) health.setStatus(name, 'NOT_SERVING');
      const timer = setTimeout(() => { server.forceShutdown(); resolve(); }, graceMs);
      server.tryShutdown(() => { clearTimeout(timer); resolve(); });
    }),
  };
}
