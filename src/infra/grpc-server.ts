import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import type { KeyRing, Principal, Scope } from '../auth/keys.ts';
import { grpcStatusOf, PulseError, toPulseError } from '../errors.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import { loadPackageDefinition } from './proto.ts';

/** What every handler wrapper needs. */
export interface HandlerContext {
  readonly keys: KeyRing;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Per-key rate limits (keys with a `rateLimit`); absent: none. */
  readonly limiter?: RateLimiter | undefined;
}

/**
 * A token bucket per key: a key with `rateLimit` r may spend r tokens per second, with bursts of
 * up to r (one second's worth). A unary call costs 1, a streamed message its number of lookups.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** Spends `cost` tokens of the principal's bucket; RESOURCE_EXHAUSTED when it has too few. */
  take(principal: Principal, cost = 1): void {
    const rate = principal.rateLimit;
    if (rate === undefined) return;
    const now = this.#now();
    const b = this.#buckets.get(principal.keyId) ?? { tokens: rate, at: now };
    b.tokens = Math.min(rate, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    this.#buckets.set(principal.keyId, b);
    if (b.tokens < cost) throw new PulseError('RESOURCE_EXHAUSTED', `rate limit of ${rate}/s exceeded for this key`);
    b.tokens -= cost;
  }
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

/**
 * Wraps a bidirectional-streaming handler: authenticates once when the stream opens, then answers
 * each request message with one response message. Messages are handled as they arrive, up to
 * `maxInFlight` at a time (reading pauses beyond that, so HTTP/2 flow control holds the client
 * back); responses go out as they complete and carry the caller's ids. Each message spends
 * `cost(request)` tokens of the key's rate limit and is timed in `pulse_grpc_handler_seconds`;
 * with `items`, the time per item (message time / items) is observed too, as `<method>/item`.
 * A failing message ends the stream with its status.
 */
export function bidiStream<Req, Res>(
  ctx: HandlerContext, method: string, scope: Scope, fn: (request: Req, principal: Principal) => Promise<Res>,
  options: { cost?: (request: Req) => number; items?: (request: Req) => number; maxInFlight?: number } = {},
): grpc.handleBidiStreamingCall<Req, Res> {
  const maxInFlight = options.maxInFlight ?? 16;
  return (call) => {
    const fail = (err: unknown, tenant?: string): void => {
      const e = toPulseError(err);
      if (e.code === 'INTERNAL' || e.code === 'UNAVAILABLE') ctx.log.error({ err: e.cause ?? e, method, tenant }, 'call failed');
      call.emit('error', { code: grpcStatusOf(e.code), details: e.message });
    };
    let principal: Principal;
    try {
      principal = ctx.keys.authorize(call.metadata.get('authorization')[0]?.toString(), scope);
    } catch (err) {
      ctx.metrics.grpcHandlerSeconds.observe({ method, code: toPulseError(err).code }, 0);
      fail(err);
      return;
    }
    let inFlight = 0;
    let ended = false;
    let failed = false;
    const finish = () => { if (ended && inFlight === 0 && !failed) call.end(); };
    call.on('data', (request: Req) => {
      if (failed) return;
      const start = process.hrtime.bigint();
      const done = (code: string) => {
        const seconds = Number(process.hrtime.bigint() - start) / 1e9;
        ctx.metrics.grpcHandlerSeconds.observe({ method, code }, seconds);
        const n = options.items?.(request) ?? 0;
        if (n > 0) ctx.metrics.grpcHandlerSeconds.observe({ method: `${method}/item`, code }, seconds / n);
      };
      inFlight += 1;
      if (inFlight >= maxInFlight) call.pause();
      const work = (async () => {
        ctx.limiter?.take(principal, options.cost?.(request) ?? 1);
        return fn(request, principal);
      })();
      work.then(
        (res) => { done('OK'); if (!failed) call.write(res); },
        (err: unknown) => { done(toPulseError(err).code); if (!failed) { failed = true; fail(err, principal.tenant); } },
      ).finally(() => {
        inFlight -= 1;
        if (inFlight < maxInFlight && !failed) call.resume();
        finish();
      });
    });
    call.on('end', () => { ended = true; finish(); });
    call.on('error', () => { failed = true; });
  };
}

function serve<Res>(
  ctx: HandlerContext, method: string, scope: Scope, metadata: grpc.Metadata,
  run: (principal: Principal) => Promise<Res>, callback: grpc.sendUnaryData<Res>,
): void {
  const start = process.hrtime.bigint();
  let principal: Principal;
  try {
    principal = ctx.keys.authorize(metadata.get('authorization')[0]?.toString(), scope);
    ctx.limiter?.take(principal);
  } catch (err) {
    const e = toPulseError(err);
    observeSince(ctx, method, e.code, start);
    callback({ code: grpcStatusOf(e.code), details: e.message });
    return;
  }
  run(principal).then(
    (res) => { observeSince(ctx, method, 'OK', start); callback(null, res); },
    (err: unknown) => {
      const e = toPulseError(err);
      if (e.code === 'INTERNAL' || e.code === 'UNAVAILABLE') ctx.log.error({ err: e.cause ?? e, method, tenant: principal.tenant }, 'call failed');
      observeSince(ctx, method, e.code, start);
      callback({ code: grpcStatusOf(e.code), details: e.message });
    },
  );
}

// A module function, not a closure per call: unary calls are the hot path.
function observeSince(ctx: HandlerContext, method: string, code: string, start: bigint): void {
  ctx.metrics.grpcHandlerSeconds.observe({ method, code }, Number(process.hrtime.bigint() - start) / 1e9);
}

/** TLS of the gRPC server (PEM): with `ca`, clients must present a certificate it signed (mutual TLS). */
export interface GrpcTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca?: Buffer | undefined;
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
  tls?: GrpcTls,
): Promise<GrpcServer> {
  // channelz bookkeeping costs ~6% of a lookup's CPU (bench profile) and nothing reads it.
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024, 'grpc.enable_channelz': 0 });
  const statuses: Record<string, ServingStatus> = { '': 'SERVING' };
  for (const s of services) {
    server.addService(s.definition, s.handlers);
    statuses[s.name] = 'SERVING';
  }
  const health = new HealthImplementation(statuses);
  health.addToServer(server);
  new ReflectionService(loadPackageDefinition()).addToServer(server);
  const bound = await new Promise<number>((resolve, reject) => {
    const credentials = tls === undefined
      ? grpc.ServerCredentials.createInsecure()
      : grpc.ServerCredentials.createSsl(tls.ca ?? null, [{ cert_chain: tls.cert, private_key: tls.key }], tls.ca !== undefined);
    server.bindAsync(`${host}:${port}`, credentials, (err, p) => (err ? reject(err) : resolve(p)));
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
