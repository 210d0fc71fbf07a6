import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadPulseGrpc } from '../../src/infra/proto.ts';
import type { BackfillStatus__Output } from '../../src/gen/pulse/v1/BackfillStatus.ts';
import type { CreateSegmentRequest } from '../../src/gen/pulse/v1/CreateSegmentRequest.ts';
import type { DeleteSegmentRequest } from '../../src/gen/pulse/v1/DeleteSegmentRequest.ts';
import type { DeleteSegmentResponse__Output } from '../../src/gen/pulse/v1/DeleteSegmentResponse.ts';
import type { EstimateSegmentRequest } from '../../src/gen/pulse/v1/EstimateSegmentRequest.ts';
import type { EstimateSegmentResponse__Output } from '../../src/gen/pulse/v1/EstimateSegmentResponse.ts';
import type { GetAudienceRequest } from '../../src/gen/pulse/v1/GetAudienceRequest.ts';
import type { GetAudienceResponse__Output } from '../../src/gen/pulse/v1/GetAudienceResponse.ts';
import type { GetBackfillStatusRequest } from '../../src/gen/pulse/v1/GetBackfillStatusRequest.ts';
import type { GetProfileRequest } from '../../src/gen/pulse/v1/GetProfileRequest.ts';
import type { GetSegmentRequest } from '../../src/gen/pulse/v1/GetSegmentRequest.ts';
import type { ListSegmentsRequest } from '../../src/gen/pulse/v1/ListSegmentsRequest.ts';
import type { ListSegmentsResponse__Output } from '../../src/gen/pulse/v1/ListSegmentsResponse.ts';
import type { Profile__Output } from '../../src/gen/pulse/v1/Profile.ts';
import type { Segment__Output } from '../../src/gen/pulse/v1/Segment.ts';
import { freePort } from './env.ts';

const BIN = fileURLToPath(new URL('../../bin/pulse.mjs', import.meta.url));

/** A real `pulse start` process. */
export interface PulseProcess {
  readonly child: ChildProcess;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly env: NodeJS.ProcessEnv;
  /** Everything it printed so far. */
  output(): string;
  /** Resolves with the exit code and how long the exit took after the signal. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

/**
 * Environment without any PULSE_* of the caller, so tests choose every setting; the one exception
 * is the Redis layout a run of the suites is made under (PULSE_TEST_REDIS_LAYOUT, see ops/test.mjs),
 * passed on as PULSE_REDIS_LAYOUT unless the test sets it.
 */
export function cleanEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PULSE_') && !k.startsWith('TAP')) env[k] = v;
  const layout = process.env['PULSE_TEST_REDIS_LAYOUT'];
  return { ...env, ...(layout === undefined ? {} : { PULSE_REDIS_LAYOUT: layout }), ...vars };
}

/** Starts `pulse start` and waits until it says it is running. */
export async function startPulseProcess(vars: Record<string, string>, timeoutMs = 60_000): Promise<PulseProcess> {
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const env = cleanEnv({ PULSE_GRPC_PORT: String(grpcPort), PULSE_HTTP_PORT: String(httpPort), PULSE_LOG_LEVEL: 'warn', ...vars });
  const child = spawn(process.execPath, [BIN, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pulse did not start in ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const onData = () => {
      if (out.includes('Pulse is running')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`pulse exited with ${code} before starting:\n${out}`));
    });
  });
  return {
    child, grpcPort, httpPort, env,
    output: () => out,
    stop: (signal = 'SIGTERM') => new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        resolve({ code: child.exitCode, signal: child.signalCode, ms: 0 });
        return;
      }
      const started = Date.now();
      child.once('exit', (code, sig) => resolve({ code, signal: sig, ms: Date.now() - started }));
      child.kill(signal);
    }),
  };
}

/** Runs a `pulse` CLI command to completion. */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Promise-returning gRPC calls of the pulse.v1 services, with clients built from the protos. */
export function grpcClients(port: number) {
  const pkg = loadPulseGrpc();
  const address = `127.0.0.1:${port}`;
  const creds = grpc.credentials.createInsecure();
  const targeting = new pkg.pulse.v1.TargetingService(address, creds);
  const profiles = new pkg.pulse.v1.ProfileService(address, creds);
  const segments = new pkg.pulse.v1.SegmentService(address, creds);
  const unary = <Req, Res>(client: grpc.Client, method: string) => (req: Req, md: grpc.Metadata): Promise<Res> => callUnary<Res>(client, method, req, md);
  return {
    getAudience: unary<GetAudienceRequest, GetAudienceResponse__Output>(targeting, 'GetAudience'),
    getProfile: unary<GetProfileRequest, Profile__Output>(profiles, 'GetProfile'),
    createSegment: unary<CreateSegmentRequest, Segment__Output>(segments, 'CreateSegment'),
    getSegment: unary<GetSegmentRequest, Segment__Output>(segments, 'GetSegment'),
    listSegments: unary<ListSegmentsRequest, ListSegmentsResponse__Output>(segments, 'ListSegments'),
    deleteSegment: unary<DeleteSegmentRequest, DeleteSegmentResponse__Output>(segments, 'DeleteSegment'),
    estimateSegment: unary<EstimateSegmentRequest, EstimateSegmentResponse__Output>(segments, 'EstimateSegment'),
    getBackfillStatus: unary<GetBackfillStatusRequest, BackfillStatus__Output>(segments, 'GetBackfillStatus'),
    close: () => { targeting.close(); profiles.close(); segments.close(); },
  };
}

/** Calls the unary `method` of a client made from the protos (any pulse.v1 service). */
export function callUnary<Res>(client: grpc.Client, method: string, req: unknown, md: grpc.Metadata): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (r: unknown, m: grpc.Metadata, cb: (err: grpc.ServiceError | null, res: Res) => void) => void>)[method];
    if (fn === undefined) throw new Error(`no method ${method}`);
    fn.call(client, req, md, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** Metadata carrying `authorization: Bearer <key>` (none when key is undefined). */
export function bearer(key: string | undefined): grpc.Metadata {
  const md = new grpc.Metadata();
  if (key !== undefined) md.set('authorization', `Bearer ${key}`);
  return md;
}
