// Activation (DESIGN.md section 8, issue 5 item 9): TargetingService/EnrichBidRequest under h2load
// and BatchGetAudience over one bidirectional stream, each next to an empty grpc-js handler (child
// process bench/empty-targeting-server.ts) under exactly the same load; optionally the time inside
// Pulse (pulse_grpc_handler_seconds) for GetAudience from the near-cache and from Redis (a second
// Pulse, role api, with PULSE_NEAR_CACHE_ENTRIES=0, in a child process).
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import type { NatsConnection } from '@nats-io/transport-node';
import protobuf from 'protobufjs';
import type { RedisClient } from '../src/infra/redis.ts';
import type { EnrichBidRequestResponse__Output } from '../src/gen/pulse/v1/EnrichBidRequestResponse.ts';
import { loadPulseGrpc, PROTO_DIR } from '../src/infra/proto.ts';
import type { BatchClientOptions, BatchClientResult } from './batch-client.ts';
import { grpcFrame, runH2load, startEmptyServer, writeGetAudienceBody, type EmptyServer, type H2loadResult } from './h2load.ts';
import { getAudience, ingestRun, Metrics, type BenchPulse } from './pulse-harness.ts';
import type { Row } from './report.ts';
import { CpuMeter, HOST, log, ms, NATS_URL, NODE_FLAGS, REDIS_URL, round, si, sleep } from './util.ts';

const ENRICH = '/pulse.v1.TargetingService/EnrichBidRequest';
const GET_AUDIENCE = '/pulse.v1.TargetingService/GetAudience';
/** A site bid request with a LiveRamp id among its user.eids (test/fixtures/openrtb). */
export const FIXTURE = 'site-eids.json';
/** The fixture's identifier the bench links to the known user (a first-party key reads user.eids). */
const LINKED = { type: 'partner:liveramp', id: 'XY1000bIVBVah9ium-sZ3ykhPiXQbEcUpn4GjCtxrrw2BRDGM' };
/** The known user: a member of every bench segment. */
const KNOWN_USER = 'u0';

export interface ActivationPlan {
  /** The same h2load settings as the GetAudience rows. */
  readonly h2load: { clients: number; streams: number; seconds: number; warmupSeconds: number; fixedSeconds: number; serialSeconds: number };
  /** Maximum-rate attempts (alternating with the empty handler's; the best counts). */
  readonly attempts: number;
  /** BatchGetAudience: `lookups` per message, `inFlight` messages outstanding on one stream. */
  readonly batch: { seconds: number; warmupSeconds: number; lookups: number; inFlight: number };
  /** User ids u0..u<users - 1> exist (the ingest run's people, each in at least one segment). */
  readonly users: number;
  /** Also measure the time inside Pulse for GetAudience with the near-cache off (a second Pulse). */
  readonly cacheOff: boolean;
}

export interface ActivationContext {
  readonly root: string;
  readonly tmp: string;
  /** The started bench Pulse (its gRPC port, its `*` key, /metrics). */
  readonly pulse: BenchPulse;
  readonly nc: NatsConnection;
  readonly redis: RedisClient;
  readonly pids: Readonly<Record<string, number | 'self' | undefined>>;
  readonly plan: ActivationPlan;
  /** With `--cpu-prof`: the api Pulse under test runs with V8's `--cpu-prof` (its profile lands in `tmp`). */
  readonly cpuProfile?: boolean;
}

export interface HandlerTime {
  readonly calls: number;
  readonly notOk: number;
  readonly meanMs: number;
  /** From the histogram's bucket counts (linear within a bucket); `>250 ms` is reported as Infinity. */
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface UnaryRun {
  readonly server: 'empty' | 'pulse' | 'pulse (near-cache off)';
  readonly method: 'EnrichBidRequest' | 'GetAudience';
  readonly mode: 'max' | 'fixed' | 'serial';
  readonly attempt: number;
  readonly result: H2loadResult;
  readonly handler?: HandlerTime;
}

export interface BatchRun {
  readonly server: 'empty' | 'pulse';
  readonly attempt: number;
  readonly result: BatchClientResult;
  readonly cpuSeconds: Record<string, number>;
  readonly handler?: HandlerTime;
  /** Pulse's BatchGetAudience/item histogram: time per lookup. */
  readonly perLookup?: HandlerTime;
}

export interface ActivationBench {
  readonly fixture: string;
  readonly requestBytes: number;
  readonly enrichedResponseBytes: number;
  readonly fixedRate: number;
  readonly unary: UnaryRun[];
  readonly batch: BatchRun[];
  readonly batchPlan: ActivationPlan['batch'];
  readonly cacheOffError?: string;
  /** For the table and the README. */
  readonly rows: Row[];
  readonly notes: string[];
}

/** Histogram quantile from cumulative bucket counts (Prometheus histogram_quantile, linear in a bucket). */
export function bucketQuantile(buckets: readonly { le: number; count: number }[], q: number): number {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total <= 0) return Number.NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of sorted) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return Number.POSITIVE_INFINITY;
      const inBucket = b.count - prevCount;
      return inBucket <= 0 ? b.le : prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket;
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return Number.NaN;
}

const BUCKET_LES = ['0.00005', '0.0001', '0.0002', '0.0005', '0.001', '0.002', '0.005', '0.01', '0.05', '0.25', '+Inf'];

/** pulse_grpc_handler_seconds of `method` between two scrapes. */
export function handlerTime(before: Metrics, after: Metrics, method: string): HandlerTime {
  const d = (name: string, match: Record<string, string>) => after.sum(name, { method, ...match }) - before.sum(name, { method, ...match });
  const calls = d('pulse_grpc_handler_seconds_count', {});
  const notOk = d('pulse_grpc_handler_seconds_count', { '!code': 'OK' });
  const sum = d('pulse_grpc_handler_seconds_sum', {});
  const buckets = BUCKET_LES.map((le) => ({ le: le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), count: d('pulse_grpc_handler_seconds_bucket', { le }) }));
  const q = (p: number) => round(bucketQuantile(buckets, p) * 1000, 4);
  return { calls, notOk, meanMs: calls > 0 ? round((sum / calls) * 1000, 5) : 0, p50Ms: q(0.5), p99Ms: q(0.99) };
}

function loadRoot(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(PROTO_DIR, target));
  root.loadSync('pulse/v1/targeting.proto', { keepCase: false });
  return root;
}

/** The bench's BidRequest: the fixture FIXTURE as compact JSON bytes. */
export function enrichFixture(root: string): Buffer {
  return Buffer.from(JSON.stringify(JSON.parse(readFileSync(join(root, 'test', 'fixtures', 'openrtb', FIXTURE), 'utf8'))));
}

/** Writes the framed EnrichBidRequestRequest carrying `json` to `file`. */
export function writeEnrichBody(file: string, json: Buffer): number {
  const type = loadRoot().lookupType('pulse.v1.EnrichBidRequestRequest');
  const frame = grpcFrame(type.encode(type.create({ openrtbJson: json })).finish());
  writeFileSync(file, frame);
  return frame.byteLength;
}

export async function enrichOnce(port: number, apiKey: string | undefined, json: Buffer): Promise<EnrichBidRequestResponse__Output> {
  const client = new (loadPulseGrpc().pulse.v1.TargetingService)(`${HOST}:${port}`, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  if (apiKey !== undefined) md.set('authorization', `Bearer ${apiKey}`);
  try {
    return await new Promise<EnrichBidRequestResponse__Output>((resolve, reject) => {
      client.EnrichBidRequest({ openrtbJson: json }, md, (err, res) => (err ? reject(err) : res === undefined ? reject(new Error('no response')) : resolve(res)));
    });
  } finally {
    client.close();
  }
}

/** Runs bench/batch-client.ts in a child process and returns its result. */
async function runBatchClient(root: string, o: BatchClientOptions): Promise<BatchClientResult> {
  const child = spawn(process.execPath, [...NODE_FLAGS, '--import', 'tsx', join(root, 'bench', 'batch-client.ts'), JSON.stringify(o)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const last = lines.at(-1);
  if (code !== 0 || last === undefined) throw new Error(`batch client exited with ${code}`);
  const r = JSON.parse(last) as BatchClientResult;
  if (r.error !== undefined) throw new Error(`batch client: ${r.error}`);
  return r;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** A Pulse of its own (role api) in a child process. */
export interface ApiPulse {
  readonly grpcPort: number;
  readonly pid: number;
  scrape(): Promise<Metrics>;
  stop(): Promise<void>;
}

/**
 * `pulse start --role api` on the bench namespace in a child process: what a deployment's API tier
 * runs, away from the bench's own heap and from the bench Pulse's processor and warehouse. With
 * `nearCache: false` every lookup reads Redis. With `cpuProfileDir`, V8 writes the child's profile
 * there when it stops.
 */
async function startApiPulse(ctx: ActivationContext, o: { label: string; nearCache: boolean; cpuProfileDir?: string | undefined }): Promise<ApiPulse> {
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const env = {
    ...process.env,
    PULSE_NAMESPACE: ctx.pulse.namespace, PULSE_DATA_DIR: join(ctx.tmp, `data-${o.label}`), PULSE_HOST: HOST,
    PULSE_GRPC_PORT: String(grpcPort), PULSE_HTTP_PORT: String(httpPort), PULSE_NATS_URL: NATS_URL, PULSE_REDIS_URL: REDIS_URL,
    PULSE_LOG_LEVEL: 'warn', PULSE_REDIS_LAYOUT: ctx.pulse.layout, ...(o.nearCache ? {} : { PULSE_NEAR_CACHE_ENTRIES: '0' }),
    PULSE_API_KEYS: JSON.stringify([{ key: ctx.pulse.apiKey, tenant: 'bench', scopes: ['*'] }]),
  };
  const profile = o.cpuProfileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfileDir}`, `--cpu-prof-name=${o.label}.cpuprofile`];
  const child = spawn(process.execPath, [...NODE_FLAGS, ...profile, join(ctx.root, 'bin', 'pulse.mjs'), 'start', '--role', 'api'], { cwd: ctx.root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.pid === undefined) throw new Error(`${o.label} Pulse has no pid`);
  const url = `http://${HOST}:${httpPort}/metrics`;
  const scrape = async () => {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`GET /metrics: ${res.status}`);
    return new Metrics(await res.text());
  };
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000).then(() => { child.kill('SIGKILL'); })]);
  };
  const deadline = performance.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${o.label} Pulse exited with ${child.exitCode}`);
    try {
      await scrape();
      await getAudience(grpcPort, ctx.pulse.apiKey, [{ type: 'user_id', id: KNOWN_USER }]);
      break;
    } catch {
      if (performance.now() > deadline) {
        await stop();
        throw new Error(`${o.label} Pulse did not come up in 60 s`);
      }
      await sleep(250);
    }
  }
  return { grpcPort, pid: child.pid, scrape, stop };
}

/** Links the fixture's LiveRamp id to the known user (one identify event through ingest), then checks enrichment. */
async function linkFixtureUser(ctx: ActivationContext, json: Buffer): Promise<EnrichBidRequestResponse__Output> {
  const event = {
    type: 'identify', messageId: `activation-link-${Date.now()}`, userId: KNOWN_USER, timestamp: new Date().toISOString(),
    traits: { plan: 'pro' }, context: { externalIds: [LINKED] },
  };
  await ingestRun(ctx.pulse, ctx.nc, ctx.redis, `link ${LINKED.type} of ${FIXTURE} to ${KNOWN_USER}`,
    [{ data: new TextEncoder().encode(JSON.stringify(event)), msgId: event.messageId, events: 1 }], ctx.pids, 60_000);
  const viaLinked = await getAudience(ctx.pulse.grpcPort, ctx.pulse.apiKey, [LINKED]);
  if (viaLinked.segments.length === 0) throw new Error(`GetAudience(${LINKED.type}) after linking returned ${JSON.stringify(viaLinked)}`);
  const res = await enrichOnce(ctx.pulse.grpcPort, ctx.pulse.apiKey, json);
  if (!res.enriched) throw new Error(`EnrichBidRequest(${FIXTURE}) was not enriched`);
  return res;
}

export async function activationBench(ctx: ActivationContext): Promise<ActivationBench> {
  const { plan, pulse } = ctx;
  const h = plan.h2load;
  const json = enrichFixture(ctx.root);
  const enriched = await linkFixtureUser(ctx, json);
  const enrichedJson = JSON.parse(Buffer.from(enriched.openrtbJson).toString('utf8')) as { user?: { data?: { id?: string; segment?: unknown[] }[] } };
  const pulseSegs = (enrichedJson.user?.data ?? []).filter((d) => d.id === 'pulse').reduce((n, d) => n + (d.segment?.length ?? 0), 0);
  log(`  check: EnrichBidRequest(${FIXTURE}, ${json.byteLength} bytes) -> enriched, ${enriched.openrtbJson.byteLength} bytes, ${pulseSegs} Pulse segment entries in user.data`);

  const enrichBody = join(ctx.tmp, 'enrich-bid-request.bin');
  const requestBytes = writeEnrichBody(enrichBody, json);
  const audienceBody = join(ctx.tmp, 'activation-get-audience.bin');
  writeGetAudienceBody(audienceBody, [{ type: 'user_id', id: KNOWN_USER }]);

  const unaryRuns: UnaryRun[] = [];
  const batchRuns: BatchRun[] = [];
  let empty: EmptyServer | undefined;
  let api: ApiPulse | undefined;
  let cacheOffError: string | undefined;
  // Pulse's histogram counts every call, h2load's own warm-up included: a Pulse started a moment
  // ago first serves a few seconds of calls that are not counted, so its rows are the steady state
  // (its first calls load the scripts and compile the hot path).
  const warmUp = (p: ApiPulse, method: UnaryRun['method'], label: string) => runH2load({
    port: p.grpcPort, path: method === 'EnrichBidRequest' ? ENRICH : GET_AUDIENCE, bodyFile: method === 'EnrichBidRequest' ? enrichBody : audienceBody,
    headers: ['content-type: application/grpc', 'te: trailers', `authorization: Bearer ${pulse.apiKey}`],
    clients: 1, streams: 1, durationSeconds: h.serialSeconds, warmupSeconds: 0,
    logFile: join(ctx.tmp, `h2load-${method}-${label}-warm-up.log`), serverPid: p.pid, otherPids: {},
  });
  try {
    empty = await startEmptyServer(ctx.root, 'empty-targeting-server.ts');
    const e = empty;
    const emptyCheck = await enrichOnce(e.port, undefined, json);
    if (emptyCheck.enriched || emptyCheck.openrtbJson.byteLength !== 0) throw new Error('the empty handler returned something');
    // The Pulse under test: `pulse start --role api` in a process of its own, as the empty handler is.
    api = await startApiPulse(ctx, { label: 'api', nearCache: true, cpuProfileDir: ctx.cpuProfile === true ? ctx.tmp : undefined });
    const apiCheck = await enrichOnce(api.grpcPort, pulse.apiKey, json);
    if (!apiCheck.enriched || apiCheck.openrtbJson.byteLength !== enriched.openrtbJson.byteLength) throw new Error('the api Pulse did not enrich the request as the bench Pulse did');
    await warmUp(api, 'EnrichBidRequest', 'api');

    type Target = { name: UnaryRun['server']; port: number; apiKey?: string; pid: number | 'self'; scrape?: () => Promise<Metrics> };
    const a = api;
    const targets: Record<'empty' | 'pulse', Target> = {
      empty: { name: 'empty', port: e.port, pid: e.pid },
      pulse: { name: 'pulse', port: a.grpcPort, apiKey: pulse.apiKey, pid: a.pid, scrape: () => a.scrape() },
    };
    const unary = async (t: Target, method: UnaryRun['method'], mode: UnaryRun['mode'], attempt: number, rpsPerClient?: number): Promise<UnaryRun> => {
      const serial = mode === 'serial';
      const before = t.scrape === undefined ? undefined : await t.scrape();
      const result = await runH2load({
        port: t.port, path: method === 'EnrichBidRequest' ? ENRICH : GET_AUDIENCE, bodyFile: method === 'EnrichBidRequest' ? enrichBody : audienceBody,
        headers: ['content-type: application/grpc', 'te: trailers', ...(t.apiKey === undefined ? [] : [`authorization: Bearer ${t.apiKey}`])],
        clients: serial ? 1 : h.clients, streams: serial ? 1 : h.streams,
        durationSeconds: mode === 'max' ? h.seconds : mode === 'fixed' ? h.fixedSeconds : h.serialSeconds, warmupSeconds: h.warmupSeconds,
        ...(rpsPerClient === undefined ? {} : { rpsPerClient }),
        logFile: join(ctx.tmp, `h2load-${method}-${t.name.replace(/\W+/g, '-')}-${mode}-${attempt}.log`),
        serverPid: t.pid,
        otherPids: { 'redis-server': ctx.pids['redis-server'], 'nats-server': ctx.pids['nats-server'], ...(t.pid === 'self' ? {} : { 'node (bench + idle Pulse)': 'self' as const }) },
      });
      if (result.status2xx === 0 || result.statusOther > 0 || result.errored > 0) {
        throw new Error(`h2load ${method} ${t.name} ${mode}: ${result.status2xx} 2xx, ${result.statusOther} other statuses, ${result.errored} errored`);
      }
      let handler: HandlerTime | undefined;
      if (before !== undefined && t.scrape !== undefined) {
        handler = handlerTime(before, await t.scrape(), method);
        // h2load sees HTTP 200 even for gRPC errors: Pulse's own counter must show every call OK.
        if (handler.notOk > 0 || handler.calls < result.status2xx) throw new Error(`h2load ${method} ${t.name} ${mode}: Pulse counted ${handler.calls - handler.notOk} OK and ${handler.notOk} failed calls for ${result.status2xx} HTTP 2xx`);
      }
      log(`  ${method} ${t.name.padEnd(5)} ${mode.padEnd(6)}${mode === 'max' ? ` #${attempt + 1}` : '   '} ${Math.round(result.requestsPerSecond)} req/s, p50 ${ms(result.percentilesMs.p50)}, p99 ${ms(result.percentilesMs.p99)} `
        + `(${result.status2xx} 2xx); CPU s server ${result.cpuSeconds.server}, h2load ${result.cpuSeconds.h2load}, others ${result.cpuSeconds['other processes'] ?? 0}`
        + `${handler === undefined ? '' : `; inside Pulse mean ${handler.meanMs} ms, p99 ≈${handler.p99Ms} ms (${handler.calls} calls)`}`);
      const run: UnaryRun = { server: t.name, method, mode, attempt, result, ...(handler === undefined ? {} : { handler }) };
      unaryRuns.push(run);
      return run;
    };

    // 1. EnrichBidRequest under h2load ------------------------------------------------------
    log(`  EnrichBidRequest: ${requestBytes}-byte gRPC frame (${FIXTURE}), h2load -c ${h.clients} -m ${h.streams} -t 1, ${h.seconds} s after ${h.warmupSeconds} s warm-up`);
    for (let k = 0; k < plan.attempts; k++) {
      await unary(targets.empty, 'EnrichBidRequest', 'max', k);
      await unary(targets.pulse, 'EnrichBidRequest', 'max', k);
    }
    const bestMax = (server: string) => Math.max(...unaryRuns.filter((r) => r.server === server && r.method === 'EnrichBidRequest' && r.mode === 'max').map((r) => r.result.requestsPerSecond));
    // Half the empty handler's maximum (issue 5 item 9), a multiple of the connection count.
    const fixedRate = Math.max(h.clients, Math.round(bestMax('empty') / 2 / h.clients) * h.clients);
    await unary(targets.empty, 'EnrichBidRequest', 'fixed', 0, fixedRate / h.clients);
    await unary(targets.pulse, 'EnrichBidRequest', 'fixed', 0, fixedRate / h.clients);

    // 2. BatchGetAudience over one stream ---------------------------------------------------
    const b = plan.batch;
    log(`  BatchGetAudience: one stream, ${b.lookups} lookups/message (users u0..u${plan.users - 1}), ${b.inFlight} messages in flight, ${b.seconds} s after ${b.warmupSeconds} s warm-up; client in a child process`);
    const batchOnce = async (server: 'empty' | 'pulse', attempt: number): Promise<BatchRun> => {
      const t = targets[server];
      const before = t.scrape === undefined ? undefined : await t.scrape();
      const meter = new CpuMeter({ server: t.pid, 'redis-server': ctx.pids['redis-server'], ...(t.pid === 'self' ? {} : { 'node (bench + idle Pulse)': 'self' as const }) }).start();
      const result = await runBatchClient(ctx.root, {
        port: t.port, ...(t.apiKey === undefined ? {} : { apiKey: t.apiKey }), seconds: b.seconds, warmupSeconds: b.warmupSeconds,
        lookups: b.lookups, inFlight: b.inFlight, users: plan.users, userOffset: 0, expectSegments: server === 'pulse' ? 1 : 0,
      });
      const { cpuSeconds } = meter.stop();
      if (cpuSeconds['reaped children'] !== undefined) {
        cpuSeconds['batch client'] = cpuSeconds['reaped children'];
        delete cpuSeconds['reaped children'];
      }
      if (server === 'pulse' && result.checked.matched !== result.checked.answers) {
        throw new Error(`BatchGetAudience: only ${result.checked.matched} of ${result.checked.answers} checked answers named a profile with segments`);
      }
      let handler: HandlerTime | undefined;
      let perLookup: HandlerTime | undefined;
      if (before !== undefined && t.scrape !== undefined) {
        const after = await t.scrape();
        handler = handlerTime(before, after, 'BatchGetAudience');
        perLookup = handlerTime(before, after, 'BatchGetAudience/item');
        if (handler.notOk > 0) throw new Error(`BatchGetAudience: Pulse counted ${handler.notOk} failed messages`);
      }
      log(`  BatchGetAudience ${server.padEnd(5)} #${attempt + 1} ${si(result.messagesPerSecond)} msg/s = ${si(result.lookupsPerSecond)} lookups/s, round trip mean ${ms(result.roundTripMs.mean)}; `
        + `CPU s ${JSON.stringify(cpuSeconds)}${handler === undefined ? '' : `; inside Pulse per message mean ${handler.meanMs} ms, p99 ≈${handler.p99Ms} ms`}`);
      const run: BatchRun = { server, attempt, result, cpuSeconds, ...(handler === undefined ? {} : { handler }), ...(perLookup === undefined ? {} : { perLookup }) };
      batchRuns.push(run);
      return run;
    };
    for (let k = 0; k < plan.attempts; k++) {
      await batchOnce('empty', k);
      await batchOnce('pulse', k);
    }

    // 3. Time inside Pulse for GetAudience: near-cache, then Redis (near-cache off) -----------
    log(`  GetAudience time inside Pulse: h2load serial (-c 1 -m 1, ${h.serialSeconds} s), near-cache on (the api Pulse) and off (another Pulse, role api)`);
    await unary(targets.pulse, 'GetAudience', 'serial', 0);
    if (plan.cacheOff) {
      let off: ApiPulse | undefined;
      try {
        off = await startApiPulse(ctx, { label: 'cache-off', nearCache: false });
        const o = off;
        await warmUp(o, 'GetAudience', 'cache-off');
        await unary({ name: 'pulse (near-cache off)', port: o.grpcPort, apiKey: pulse.apiKey, pid: o.pid, scrape: () => o.scrape() }, 'GetAudience', 'serial', 0);
      } catch (err) {
        cacheOffError = err instanceof Error ? err.message : String(err);
        log(`  near-cache off run skipped: ${cacheOffError}`);
      } finally {
        await off?.stop();
      }
    }
    return report({ json, requestBytes, enrichedBytes: enriched.openrtbJson.byteLength, fixedRate, unaryRuns, batchRuns, plan, cacheOffError });
  } finally {
    await empty?.stop();
    await api?.stop();
    if (api !== undefined && ctx.cpuProfile === true) log(`  CPU profile of the api Pulse: ${join(ctx.tmp, 'api.cpuprofile')}`);
  }
}

function report(o: {
  json: Buffer; requestBytes: number; enrichedBytes: number; fixedRate: number; unaryRuns: UnaryRun[]; batchRuns: BatchRun[]; plan: ActivationPlan; cacheOffError: string | undefined;
}): ActivationBench {
  const h = o.plan.h2load;
  const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : '—');
  const best = <T>(list: T[], score: (t: T) => number) => list.reduce<T | undefined>((a, r) => (a === undefined || score(r) > score(a) ? r : a), undefined);
  const unary = (server: string, method: string, mode: string) => best(o.unaryRuns.filter((r) => r.server === server && r.method === method && r.mode === mode), (r) => r.result.requestsPerSecond);
  const rows: Row[] = [];
  for (const [mode, label] of [['max', `max, -c ${h.clients} -m ${h.streams}`], ['fixed', `fixed ${o.fixedRate}/s`]] as const) {
    const e = unary('empty', 'EnrichBidRequest', mode);
    const p = unary('pulse', 'EnrichBidRequest', mode);
    if (e !== undefined) rows.push({ what: `empty grpc-js handler (EnrichBidRequest), h2load ${label}`, rate: `${si(e.result.requestsPerSecond)} calls/s`, p50: ms(e.result.percentilesMs.p50), p99: ms(e.result.percentilesMs.p99), ceiling: '', ratio: '' });
    if (p !== undefined && e !== undefined) {
      const lat = `p50 ×${ratio(p.result.percentilesMs.p50, e.result.percentilesMs.p50)}, p99 ×${ratio(p.result.percentilesMs.p99, e.result.percentilesMs.p99)}`;
      rows.push({
        what: `**Pulse EnrichBidRequest** (OpenRTB ${o.json.byteLength} B), h2load ${label}`, rate: `${si(p.result.requestsPerSecond)} calls/s`,
        p50: ms(p.result.percentilesMs.p50), p99: ms(p.result.percentilesMs.p99), ceiling: `empty handler (${label})`,
        ratio: mode === 'fixed' ? lat : ratio(p.result.requestsPerSecond, e.result.requestsPerSecond),
      });
    }
  }
  const pf0 = unary('pulse', 'EnrichBidRequest', 'fixed');
  const saturated = pf0 !== undefined && pf0.result.requestsPerSecond < 0.95 * o.fixedRate;
  const b = o.plan.batch;
  const eb = best(o.batchRuns.filter((r) => r.server === 'empty'), (r) => r.result.messagesPerSecond);
  const pb = best(o.batchRuns.filter((r) => r.server === 'pulse'), (r) => r.result.lookupsPerSecond);
  const streamLabel = `1 stream, ${b.lookups} lookups/msg, ${b.inFlight} in flight`;
  if (eb !== undefined) rows.push({ what: `empty grpc-js bidi handler (BatchGetAudience), ${streamLabel}`, rate: `${si(eb.result.messagesPerSecond)} msg/s (= ${si(eb.result.lookupsPerSecond)} lookups/s)`, p50: '', p99: '', ceiling: '', ratio: '' });
  if (pb !== undefined) {
    rows.push({
      what: `**Pulse BatchGetAudience**, ${streamLabel}`, rate: `${si(pb.result.lookupsPerSecond)} lookups/s (${si(pb.result.messagesPerSecond)} msg/s)`, p50: '', p99: '',
      ceiling: eb === undefined ? 'goal 100k lookups/s' : 'empty bidi handler (msg/s); goal 100k lookups/s',
      ratio: `${eb === undefined ? '' : `${ratio(pb.result.messagesPerSecond, eb.result.messagesPerSecond)}; `}${ratio(pb.result.lookupsPerSecond, 100_000)}× goal`,
    });
  }
  for (const [server, label] of [['pulse', 'the near-cache'], ['pulse (near-cache off)', 'Redis (near-cache off)']] as const) {
    const r = unary(server, 'GetAudience', 'serial');
    if (r?.handler === undefined) continue;
    rows.push({
      what: `time inside Pulse, GetAudience from ${label} (h2load serial, ${si(r.handler.calls)} calls)`, rate: `${si(r.result.requestsPerSecond)} calls/s`,
      p50: ms(r.handler.p50Ms), p99: ms(r.handler.p99Ms), ceiling: label === 'the near-cache' ? 'goal p99 ≤ 0.2 ms' : 'goal p99 ≤ 1 ms', ratio: '',
    });
  }
  const notes: string[] = [];
  const pm = unary('pulse', 'EnrichBidRequest', 'max');
  const pf = unary('pulse', 'EnrichBidRequest', 'fixed');
  notes.push('The Pulse under test in this phase is `pulse start --role api` in a process of its own (as the empty handler is), on the bench namespace, with the near-cache on; it serves '
    + `${o.plan.h2load.serialSeconds} s of uncounted serial EnrichBidRequest calls before the first counted run (its histogram would otherwise count its first, cold calls). The bench process, which holds the bench Pulse's processor and warehouse, stays idle meanwhile.`);
  notes.push(`EnrichBidRequest: test/fixtures/openrtb/${FIXTURE} (${o.json.byteLength} bytes of JSON, 2 imps, 6 user.eids, publisher user.data), its LiveRamp id linked to ${KNOWN_USER} (member of every bench segment) by one identify event with context.externalIds before the runs; `
    + `Pulse answers ${o.enrichedBytes} bytes (user.data and imp[].ext.data.pulse_segs added), the empty handler an empty message. h2load ${h.clients} connections x ${h.streams} streams, best of ${o.plan.attempts} alternating runs; `
    + `the fixed rate ${o.fixedRate} calls/s is half the empty handler's maximum. Every response was HTTP 2xx and Pulse's pulse_grpc_handler_seconds counted every call OK.`
    + `${saturated ? ` ⚠ Pulse's maximum is below the fixed rate (it served ${Math.round(pf0.result.requestsPerSecond)} of ${o.fixedRate} calls/s offered), so its fixed-rate latencies are those of a saturated server.` : ''}`
    + `${pm?.handler === undefined ? '' : ` Inside Pulse at max: mean ${pm.handler.meanMs} ms, p99 ≈${pm.handler.p99Ms} ms`}${pf?.handler === undefined ? '' : `; at the fixed rate: mean ${pf.handler.meanMs} ms, p99 ≈${pf.handler.p99Ms} ms`} (p99 from the histogram's buckets).`);
  if (pb !== undefined) {
    notes.push(`BatchGetAudience: one grpc-js client in a child process (bench/batch-client.ts), one bidirectional stream, messages of ${b.lookups} lookups (user_id u0..u${o.plan.users - 1}, each a profile with segments; one answer message in 50 decoded and checked) `
      + `pre-encoded, ${b.inFlight} messages outstanding, ${b.seconds} s after ${b.warmupSeconds} s warm-up, best of ${o.plan.attempts} alternating with the empty bidi handler (answers every message with an empty message). `
      + `Pulse: ${pb.result.requestBytes}-byte requests, ${pb.result.responseBytes.min}-${pb.result.responseBytes.max}-byte answers, round trip mean ${ms(pb.result.roundTripMs.mean)}`
      + `${pb.handler === undefined ? '' : `, inside Pulse per message mean ${pb.handler.meanMs} ms (p99 ≈${pb.handler.p99Ms} ms)`}${pb.perLookup === undefined ? '' : `, per lookup mean ${round(pb.perLookup.meanMs * 1000, 2)} µs`}; `
      + `CPU s ${JSON.stringify(pb.cpuSeconds)}${eb === undefined ? '' : ` (empty: ${JSON.stringify(eb.cpuSeconds)})`}.`);
  }
  notes.push(`Time inside Pulse (pulse_grpc_handler_seconds, handler entry to response; p50/p99 estimated from its buckets 50/100/200/500 µs, 1/2/5/10 ms...) for GetAudience of ${KNOWN_USER} under h2load -c 1 -m 1: the api Pulse (near-cache on, the entry cached)`
    + `${o.cacheOffError === undefined ? ` and another Pulse (role api, PULSE_NEAR_CACHE_ENTRIES=0, child process: every call reads Redis; also measured after ${o.plan.h2load.serialSeconds} s of uncounted serial calls)` : ` (the near-cache-off Pulse failed: ${o.cacheOffError})`}.`);
  return {
    fixture: FIXTURE, requestBytes: o.requestBytes, enrichedResponseBytes: o.enrichedBytes, fixedRate: o.fixedRate, unary: o.unaryRuns, batch: o.batchRuns, batchPlan: b,
    ...(o.cacheOffError === undefined ? {} : { cacheOffError: o.cacheOffError }), rows, notes,
  };
}
