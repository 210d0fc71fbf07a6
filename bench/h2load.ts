// gRPC unary calls under h2load: the request body file, the empty-handler child process, running
// h2load and reading its summary and per-request log (percentiles with hdr-histogram-js).
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as hdr from 'hdr-histogram-js';
import protobuf from 'protobufjs';
import { PROTO_DIR } from '../src/infra/proto.ts';
import { CpuMeter, HOST, NODE_FLAGS, runCommand } from './util.ts';

/** A gRPC message frame: 0x00 (not compressed), 4-byte big-endian length, then the protobuf. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.byteLength);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.byteLength, 1);
  frame.set(message, 5);
  return frame;
}

/** Writes the framed GetAudienceRequest for `identifiers` to `file` (encoded with protobufjs). */
export function writeGetAudienceBody(file: string, identifiers: readonly { type: string; id: string }[]): number {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(PROTO_DIR, target));
  root.loadSync('pulse/v1/targeting.proto', { keepCase: false });
  const type = root.lookupType('pulse.v1.GetAudienceRequest');
  const payload = { identifiers: identifiers.map((i) => ({ type: i.type, id: i.id })) };
  const problem = type.verify(payload);
  if (problem !== null) throw new Error(`GetAudienceRequest: ${problem}`);
  const frame = grpcFrame(type.encode(type.create(payload)).finish());
  writeFileSync(file, frame);
  return frame.byteLength;
}

/** The empty grpc-js handler in a child process. */
export interface EmptyServer {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Starts `bench/<script>` (empty-server.ts: grpc-js; empty-http-server.ts: fastify;
 * enrich-floor-server.ts: a handler variant named in `args`), which prints {"port": N}.
 */
export async function startEmptyServer(root: string, script = 'empty-server.ts', args: readonly string[] = []): Promise<EmptyServer> {
  const child = spawn(process.execPath, [...NODE_FLAGS, '--import', 'tsx', join(root, 'bench', script), ...args], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`empty server exited with ${code}`)));
    child.once('error', reject);
  });
  if (child.pid === undefined) throw new Error('empty server has no pid');
  return {
    port, pid: child.pid,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface H2loadOptions {
  readonly port: number;
  readonly path: string;
  readonly bodyFile: string;
  readonly headers: readonly string[];
  readonly clients: number;
  readonly streams: number;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  /** Requests per second of each client (h2load --rps); absent: as fast as possible. */
  readonly rpsPerClient?: number;
  readonly logFile: string;
  /** The server's pid, to account its CPU. */
  readonly serverPid: number | 'self';
  readonly otherPids?: Readonly<Record<string, number | 'self' | undefined>>;
}

export interface H2loadResult {
  readonly args: string[];
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly requestsPerSecond: number;
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly errored: number;
  readonly timeout: number;
  readonly status2xx: number;
  readonly statusOther: number;
  /** From h2load's summary line "time for request". */
  readonly summaryMs: { min: number; max: number; mean: number; sd: number };
  /** From the per-request log, with hdr-histogram-js. */
  readonly percentilesMs: { p50: number; p90: number; p99: number; p999: number; max: number; count: number };
  readonly cpuSeconds: { server: number; h2load: number } & Record<string, number>;
}

/** Runs h2load against `http://127.0.0.1:<port><path>` (h2c with prior knowledge, POST of the body file). */
export async function runH2load(o: H2loadOptions): Promise<H2loadResult> {
  const args = [
    '-c', String(o.clients), '-m', String(o.streams), '-t', '1',
    '-D', String(o.durationSeconds), '--warm-up-time', String(o.warmupSeconds),
    ...(o.rpsPerClient === undefined ? [] : ['--rps', String(o.rpsPerClient)]),
    '-d', o.bodyFile, ...o.headers.flatMap((h) => ['-H', h]),
    '--log-file', o.logFile,
    `http://${HOST}:${o.port}${o.path}`,
  ];
  const meter = new CpuMeter({ server: o.serverPid, ...o.otherPids }).start();
  const r = await runCommand('h2load', args, (o.durationSeconds + o.warmupSeconds + 60) * 1000);
  const { cpuSeconds: measured } = meter.stop();
  const { 'reaped children': h2load = 0, server = 0, ...rest } = measured;
  const cpu: H2loadResult['cpuSeconds'] = { server, h2load, ...rest };
  if (r.code !== 0) throw new Error(`h2load failed (${r.code}): ${r.stderr}\n${r.stdout}`);
  // The recorded command line never carries the (ephemeral) key.
  const shown = args.map((a) => (/^authorization:/i.test(a) ? 'authorization: Bearer <generated key>' : a));
  return { args: shown, durationSeconds: o.durationSeconds, warmupSeconds: o.warmupSeconds, ...parseSummary(r.stdout), percentilesMs: percentiles(o.logFile), cpuSeconds: cpu };
}

/** "123us", "1.23ms", "2.01s" -> milliseconds. */
function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v);
  if (m === null) return Number.NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : n * 1000;
}

function parseSummary(out: string): Omit<H2loadResult, 'args' | 'durationSeconds' | 'warmupSeconds' | 'percentilesMs' | 'cpuSeconds'> {
  const need = (re: RegExp): RegExpExecArray => {
    const m = re.exec(out);
    if (m === null) throw new Error(`h2load output lacks ${re.source}:\n${out}`);
    return m;
  };
  const fin = need(/finished in [\d.]+\w*, ([\d.]+) req\/s/);
  const req = need(/requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/);
  const st = need(/status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/);
  const t = need(/time for request:\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)/);
  return {
    requestsPerSecond: Number(fin[1]),
    total: Number(req[1]), succeeded: Number(req[2]), failed: Number(req[3]), errored: Number(req[4]), timeout: Number(req[5]),
    status2xx: Number(st[1]), statusOther: Number(st[2]) + Number(st[3]) + Number(st[4]),
    summaryMs: { min: toMs(t[1] ?? ''), max: toMs(t[2] ?? ''), mean: toMs(t[3] ?? ''), sd: toMs(t[4] ?? '') },
  };
}

/** Latency percentiles from h2load's log: start µs since epoch, HTTP status, µs until the response ended. */
function percentiles(logFile: string): H2loadResult['percentilesMs'] {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    const [, status, us] = line.split('\t');
    if (status === undefined || us === undefined) continue;
    if (status.startsWith('2')) h.recordValue(Math.max(1, Number(us)));
  }
  const p = (q: number) => h.getValueAtPercentile(q) / 1000;
  const result = { p50: p(50), p90: p(90), p99: p(99), p999: p(99.9), max: h.maxValue / 1000, count: h.totalCount };
  h.destroy();
  return result;
}
