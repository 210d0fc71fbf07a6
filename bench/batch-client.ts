// Load generator of the activation phase (child process): one grpc-js client, one
// TargetingService/BatchGetAudience stream, `inFlight` messages of `lookups` lookups each kept
// outstanding for `seconds` (after `warmupSeconds`). Messages are encoded once up front and
// answers are counted as raw bytes (one in 50 is decoded and checked), so the client spends its
// CPU on gRPC, as h2load does. Prints one JSON line (BatchClientResult) and exits.
//
//   node --import tsx bench/batch-client.ts '{"port":N,"apiKey":"...","seconds":10,...}'
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { PROTO_DIR } from '../src/infra/proto.ts';

export interface BatchClientOptions {
  readonly port: number;
  /** Bearer key; absent for the empty handler. */
  readonly apiKey?: string;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly lookups: number;
  readonly inFlight: number;
  /** Lookups go to user ids u<offset>..u<offset + users - 1>, round robin. */
  readonly users: number;
  readonly userOffset: number;
  /** Every checked answer must name a profile with at least this many segments (0 for the empty handler). */
  readonly expectSegments: number;
}

export interface BatchClientResult {
  readonly seconds: number;
  readonly messages: number;
  readonly lookups: number;
  readonly messagesPerSecond: number;
  readonly lookupsPerSecond: number;
  readonly requestBytes: number;
  readonly responseBytes: { min: number; max: number };
  /** Answers of the decoded (checked) messages, and how many of them had a profile with the expected segments. */
  readonly checked: { messages: number; answers: number; matched: number };
  /** Round trip of one message (write to its answer), ms. */
  readonly roundTripMs: { mean: number; max: number };
  readonly error?: string;
}

const PATH = '/pulse.v1.TargetingService/BatchGetAudience';

async function main(o: BatchClientOptions): Promise<BatchClientResult> {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(PROTO_DIR, target));
  root.loadSync('pulse/v1/targeting.proto', { keepCase: false });
  const reqType = root.lookupType('pulse.v1.BatchGetAudienceRequest');
  const resType = root.lookupType('pulse.v1.BatchGetAudienceResponse');
  // A few distinct messages, reused round robin.
  const variants = Math.max(1, Math.min(16, Math.ceil(o.users / o.lookups)));
  const bodies: Buffer[] = [];
  for (let v = 0; v < variants; v++) {
    const lookups = Array.from({ length: o.lookups }, (_, k) => {
      const n = (v * o.lookups + k) % o.users;
      return { id: String(k), identifiers: [{ type: 'user_id', id: `u${o.userOffset + n}` }] };
    });
    bodies.push(Buffer.from(reqType.encode(reqType.create({ lookups })).finish()));
  }
  const client = new grpc.Client(`127.0.0.1:${o.port}`, grpc.credentials.createInsecure(), { 'grpc.enable_channelz': 0, 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  const md = new grpc.Metadata();
  if (o.apiKey !== undefined) md.set('authorization', `Bearer ${o.apiKey}`);
  const identity = (b: Buffer): Buffer => b;
  const call = client.makeBidiStreamRequest<Buffer, Buffer>(PATH, identity, identity, md);

  let sent = 0;
  let received = 0;
  let counted = 0;
  let measuring = false;
  let stopping = false;
  let minBytes = Number.POSITIVE_INFINITY;
  let maxBytes = 0;
  const checked = { messages: 0, answers: 0, matched: 0 };
  const sentAt: number[] = [];
  let rttSum = 0;
  let rttMax = 0;
  let rttCount = 0;
  let t0 = 0;
  let t1 = 0;

  const send = () => {
    sentAt.push(performance.now());
    const body = bodies[sent % bodies.length];
    if (body === undefined) throw new Error('no request body');
    call.write(body);
    sent++;
  };
  const done = new Promise<string | undefined>((resolve) => {
    call.on('data', (b: Buffer) => {
      const now = performance.now();
      const rtt = now - (sentAt.shift() ?? now);
      received++;
      if (measuring) {
        counted++;
        rttSum += rtt;
        rttCount++;
        if (rtt > rttMax) rttMax = rtt;
        minBytes = Math.min(minBytes, b.byteLength);
        maxBytes = Math.max(maxBytes, b.byteLength);
        if (counted % 50 === 1) {
          const res = resType.toObject(resType.decode(b), { defaults: true }) as { answers: { profileId: string; segments: unknown[]; error: string }[] };
          checked.messages++;
          checked.answers += res.answers.length;
          checked.matched += res.answers.filter((a) => a.error === '' && (o.expectSegments === 0 || (a.profileId !== '' && a.segments.length >= o.expectSegments))).length;
        }
      }
      if (!stopping) send();
      else if (received === sent) call.end();
    });
    call.on('error', (err: Error) => resolve(err.message));
    call.on('end', () => resolve(undefined));
  });
  for (let k = 0; k < o.inFlight; k++) send();
  const warm = setTimeout(() => { measuring = true; t0 = performance.now(); }, o.warmupSeconds * 1000);
  const stop = setTimeout(() => {
    stopping = true;
    t1 = performance.now();
    measuring = false;
  }, (o.warmupSeconds + o.seconds) * 1000);
  const error = await Promise.race([done, new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), (o.warmupSeconds + o.seconds + 30) * 1000))]);
  clearTimeout(warm);
  clearTimeout(stop);
  client.close();
  const seconds = t1 > t0 ? (t1 - t0) / 1000 : 0;
  return {
    seconds: Math.round(seconds * 1000) / 1000, messages: counted, lookups: counted * o.lookups,
    messagesPerSecond: seconds > 0 ? Math.round(counted / seconds) : 0, lookupsPerSecond: seconds > 0 ? Math.round((counted * o.lookups) / seconds) : 0,
    requestBytes: bodies[0]?.byteLength ?? 0, responseBytes: { min: Number.isFinite(minBytes) ? minBytes : 0, max: maxBytes }, checked,
    roundTripMs: { mean: rttCount > 0 ? Math.round((rttSum / rttCount) * 1000) / 1000 : 0, max: Math.round(rttMax * 1000) / 1000 },
    ...(error === undefined ? {} : { error }),
  };
}

main(JSON.parse(process.argv[2] ?? '{}') as BatchClientOptions).then(
  (r) => { process.stdout.write(`${JSON.stringify(r)}\n`); process.exit(0); },
  (err: unknown) => { process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`); process.exit(1); },
);
