// Pulse in this process (startPulse) under a namespace of its own, with helpers to feed it events,
// read its /metrics, call its gRPC API and remove everything it wrote afterwards.
import * as grpc from '@grpc/grpc-js';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { RedisClient } from '../src/infra/redis.ts';
import { generateKey } from '../src/auth/keys.ts';
import { loadConfig, type RedisLayout } from '../src/config/config.ts';
import type { GetAudienceResponse__Output } from '../src/gen/pulse/v1/GetAudienceResponse.ts';
import type { Segment__Output } from '../src/gen/pulse/v1/Segment.ts';
import { createLogger } from '../src/infra/log.ts';
import { streamNames } from '../src/infra/nats.ts';
import { loadPulseGrpc } from '../src/infra/proto.ts';
import { startPulse, type RunningPulse } from '../src/main.ts';
import { publishAwaitingAcks } from './jetstream-ceiling.ts';
import type { BenchMessage } from './events.ts';
import { CpuMeter, HOST, log, NATS_URL, REDIS_URL, round, sleep } from './util.ts';

export const BENCH_TENANT = 'bench';

export interface BenchPulse {
  readonly pulse: RunningPulse;
  readonly namespace: string;
  /** Its Redis key layout (PULSE_REDIS_LAYOUT): the Pulses a phase starts beside it use the same. */
  readonly layout: RedisLayout;
  readonly grpcPort: number;
  readonly httpPort: number;
  /** A `*` key of tenant `bench`. */
  readonly apiKey: string;
  scrape(): Promise<Metrics>;
}

/** Starts Pulse (every role) on free ports with a generated key; the warehouse is chdb in `dataDir`. */
export async function startBenchPulse(namespace: string, dataDir: string, layout: RedisLayout = 'tenant'): Promise<BenchPulse> {
  const apiKey = generateKey();
  const config = loadConfig({
    PULSE_NAMESPACE: namespace, PULSE_DATA_DIR: dataDir, PULSE_HOST: HOST, PULSE_GRPC_PORT: '0', PULSE_HTTP_PORT: '0',
    PULSE_NATS_URL: NATS_URL, PULSE_REDIS_URL: REDIS_URL, PULSE_LOG_LEVEL: 'warn', PULSE_REDIS_LAYOUT: layout,
    // The collector's per-key limit (default 1000 req/s) would answer 429 under wrk; the limiter
    // still runs on every request, only its ceiling is lifted.
    PULSE_HTTP_RATE_LIMIT: '1000000',
    PULSE_API_KEYS: JSON.stringify([{ key: apiKey, tenant: BENCH_TENANT, scopes: ['*'] }]),
  });
  const pulse = await startPulse(config, config.apiKeys ?? [], 'all', createLogger(config.logLevel));
  if (pulse.grpcPort === undefined) throw new Error('Pulse started without gRPC');
  const url = `http://${HOST}:${pulse.httpPort}/metrics`;
  return {
    pulse, namespace, layout, grpcPort: pulse.grpcPort, httpPort: pulse.httpPort, apiKey,
    scrape: async () => {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`GET /metrics: ${res.status}`);
      return new Metrics(await res.text());
    },
  };
}

/** A parsed Prometheus text exposition. */
export class Metrics {
  readonly #samples: { name: string; labels: Record<string, string>; value: number }[] = [];

  constructor(text: string) {
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
      if (m === null) continue;
      const labels: Record<string, string> = {};
      for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] ?? ''] = l[2] ?? '';
      this.#samples.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
    }
  }

  /** Sum of the samples named `name` whose labels include `match` (label `!code` = not equal). */
  sum(name: string, match: Readonly<Record<string, string>> = {}): number {
    let total = 0;
    for (const s of this.#samples) {
      if (s.name !== name) continue;
      const ok = Object.entries(match).every(([k, v]) => (k.startsWith('!') ? s.labels[k.slice(1)] !== v : s.labels[k] === v));
      if (ok) total += s.value;
    }
    return total;
  }

  processed(): number {
    return this.sum('pulse_events_processed_total');
  }
}

export interface IngestResult {
  readonly label: string;
  readonly messages: number;
  readonly events: number;
  /** First publish until pulse_events_processed_total counted every event. */
  readonly seconds: number;
  readonly publishSeconds: number;
  readonly eventsPerSecond: number;
  readonly messagesPerSecond: number;
  readonly batches: number;
  readonly meanBatchMs: number;
  readonly deadLettered: number;
  readonly duplicates: number;
  readonly segmentChanges: number;
  /** Redis-side time of the Lua calls (EVALSHA) during the run, from INFO commandstats. */
  readonly redisEvalsha: { calls: number; usecPerCall: number; totalSeconds: number };
  readonly cpuSeconds: Record<string, number>;
}

/**
 * Publishes `messages` to `<ns>.events.bench` awaiting each ack and waits until Pulse has
 * processed every event (its counter is incremented after the profile updates are in Redis).
 */
export async function ingestRun(
  p: BenchPulse, nc: NatsConnection, redis: RedisClient, label: string, messages: readonly BenchMessage[],
  pids: Readonly<Record<string, number | 'self' | undefined>>, timeoutMs: number,
): Promise<IngestResult> {
  const js = jetstream(nc);
  const subject = streamNames(p.namespace).eventsSubject(BENCH_TENANT);
  const events = messages.reduce((s, m) => s + m.events, 0);
  const before = await p.scrape();
  const redisBefore = await evalshaStats(redis);
  const target = before.processed() + events;
  const meter = new CpuMeter(pids).start();
  const t0 = performance.now();
  const published = publishAwaitingAcks(js, subject, messages);
  let publishSeconds = 0;
  published.then((s) => { publishSeconds = s; }, () => undefined);
  let done = false;
  while (!done) {
    await sleep(50);
    done = (await p.scrape()).processed() >= target;
    if (!done && performance.now() - t0 > timeoutMs) {
      throw new Error(`${label}: Pulse processed ${(await p.scrape()).processed() - before.processed()} of ${events} events in ${timeoutMs / 1000} s`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = meter.stop();
  await published;
  const after = await p.scrape();
  const redisAfter = await evalshaStats(redis);
  const d = (name: string, match: Record<string, string> = {}) => after.sum(name, match) - before.sum(name, match);
  const batches = d('pulse_processor_batch_seconds_count');
  const calls = redisAfter.calls - redisBefore.calls;
  const usec = redisAfter.usec - redisBefore.usec;
  const r: IngestResult = {
    label, messages: messages.length, events, seconds: round(seconds, 3), publishSeconds: round(publishSeconds, 3),
    eventsPerSecond: Math.round(events / seconds), messagesPerSecond: Math.round(messages.length / seconds),
    batches, meanBatchMs: batches > 0 ? round((d('pulse_processor_batch_seconds_sum') / batches) * 1000, 1) : 0,
    deadLettered: d('pulse_events_dead_lettered_total'), duplicates: d('pulse_events_processed_total', { result: 'duplicate' }),
    segmentChanges: d('pulse_segment_changes_total'),
    redisEvalsha: { calls, usecPerCall: calls > 0 ? round(usec / calls, 1) : 0, totalSeconds: round(usec / 1e6, 2) },
    cpuSeconds: cpu.cpuSeconds,
  };
  log(`  ${label}: ${r.eventsPerSecond} events/s (${r.messagesPerSecond} msg/s) in ${r.seconds} s; ${batches} batches, mean ${r.meanBatchMs} ms; `
    + `Redis EVALSHA ${calls} calls, ${r.redisEvalsha.usecPerCall} µs/call; CPU s ${JSON.stringify(cpu.cpuSeconds)}`);
  if (r.deadLettered > 0) throw new Error(`${label}: ${r.deadLettered} events were dead-lettered; the generator is wrong`);
  return r;
}

async function evalshaStats(redis: RedisClient): Promise<{ calls: number; usec: number }> {
  const info = await redis.info('commandstats');
  let calls = 0;
  let usec = 0;
  for (const m of info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+),usec=(\d+)/gm)) {
    calls += Number(m[1]);
    usec += Number(m[2]);
  }
  return { calls, usec };
}

function metadata(apiKey: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${apiKey}`);
  return md;
}

/** Messages stored in the namespace's events stream (`<NS>_EVENTS`) so far. */
export async function eventsStreamMessages(nc: NatsConnection, namespace: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(streamNames(namespace).events);
  return info.state.messages;
}

/** Creates segments through SegmentService (as an operator would). */
export async function createSegments(p: BenchPulse, segments: readonly { id: string; name: string; rule: unknown }[]): Promise<void> {
  const client = new (loadPulseGrpc().pulse.v1.SegmentService)(`${HOST}:${p.grpcPort}`, grpc.credentials.createInsecure());
  try {
    for (const s of segments) {
      await new Promise<Segment__Output | undefined>((resolve, reject) => {
        client.CreateSegment({ id: s.id, name: s.name, rule: JSON.stringify(s.rule) }, metadata(p.apiKey), (err, res) => (err ? reject(err) : resolve(res)));
      });
    }
  } finally {
    client.close();
  }
}

/** One GetAudience call through grpc-js, authenticated with `apiKey` (or none). */
export async function getAudience(port: number, apiKey: string | undefined, identifiers: readonly { type: string; id: string }[]): Promise<GetAudienceResponse__Output> {
  const client = new (loadPulseGrpc().pulse.v1.TargetingService)(`${HOST}:${port}`, grpc.credentials.createInsecure());
  try {
    return await new Promise<GetAudienceResponse__Output>((resolve, reject) => {
      client.GetAudience({ identifiers: [...identifiers] }, apiKey === undefined ? new grpc.Metadata() : metadata(apiKey), (err, res) => {
        if (err) reject(err);
        else if (res === undefined) reject(new Error('GetAudience: no response'));
        else resolve(res);
      });
    });
  } finally {
    client.close();
  }
}

/**
 * Removes everything of a bench namespace: its three streams and every Redis key under `<ns>:`
 * (SCAN + UNLINK; never FLUSH). Refuses namespaces not starting with `bench_`.
 */
export async function cleanupNamespace(nc: NatsConnection, redis: RedisClient, namespace: string): Promise<{ streams: number; keys: number }> {
  if (!/^bench_[a-z0-9_]+$/.test(namespace)) throw new Error(`refusing to clean up namespace ${namespace}`);
  const jsm = await jetstreamManager(nc);
  const names = streamNames(namespace);
  let streams = 0;
  for (const stream of [names.events, names.dlq, names.changes]) {
    try {
      if (await jsm.streams.delete(stream)) streams++;
    } catch (err) {
      if (!(err instanceof Error && /not found/i.test(err.message))) throw err;
    }
  }
  let keys = 0;
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 1000);
    if (found.length > 0) keys += await redis.unlink(...found);
    cursor = next;
  } while (cursor !== '0');
  return { streams, keys };
}
