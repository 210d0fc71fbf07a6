// The HTTP collector under wrk: a Segment `/v1/batch` body of realistic events POSTed with Basic
// auth to Pulse's collector and, under the very same wrk settings, to an empty fastify handler in
// a child process (bench/empty-http-server.ts). Every request carries fresh messageIds (the Lua
// script numbers them), so Pulse's de-duplication never short-cuts a request.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { startEmptyServer, type EmptyServer } from './h2load.ts';
import { eventsStreamMessages, type BenchPulse } from './pulse-harness.ts';
import { CpuMeter, HOST, log, ms, round, runCommand, sleep } from './util.ts';

export const BATCH_PATH = '/v1/batch';
/** Replaced by the Lua script with a per-request id: `<run prefix>t<thread>r<n>`. */
const ID = '@@ID@@';

const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
];

/**
 * Event `k` of a batch as analytics.js sends it (~1 KB): identify, page and track in turn, each
 * with context (userAgent, page, ip, library, locale, campaign). messageIds and userIds hold the
 * placeholder the Lua script replaces; a batch speaks for 4 visitors.
 */
function batchEvent(k: number, baseTime: number): Record<string, unknown> {
  const visitor = k % 4;
  const path = `/catalog/shoes/running/${1000 + k * 37}`;
  const common = {
    messageId: `${ID}-${k}`,
    anonymousId: `anon-${ID}-${visitor}`,
    userId: `user-${ID}-${visitor}`,
    timestamp: new Date(baseTime + k * 1000).toISOString(),
    sentAt: new Date(baseTime + 20_000).toISOString(),
    context: {
      ip: `203.0.113.${10 + visitor}`,
      userAgent: USER_AGENTS[visitor % USER_AGENTS.length],
      locale: 'fr-FR',
      timezone: 'Europe/Paris',
      library: { name: 'analytics.js', version: 'npm:next-1.70.0' },
      page: {
        path, referrer: 'https://www.google.com/', search: '?utm_source=newsletter&utm_medium=email&utm_campaign=spring-sale',
        title: 'Running shoes — Spring collection | Example Store', url: `https://shop.example.com${path}?utm_source=newsletter&utm_medium=email&utm_campaign=spring-sale`,
      },
      campaign: { name: 'spring-sale', source: 'newsletter', medium: 'email' },
      screen: { width: 1920, height: 1080, density: 1 },
    },
  };
  switch (k % 3) {
    case 0:
      return { type: 'identify', ...common, traits: { plan: visitor % 2 === 0 ? 'pro' : 'free', country: 'FR', city: 'Lyon', age: 31 + visitor, newsletter: true, createdAt: '2023-04-12T08:30:00Z' } };
    case 1:
      return { type: 'page', ...common, name: 'Product', category: 'Catalog', properties: { path, title: 'Running shoes — Spring collection', referrer: 'https://www.google.com/' } };
    default:
      return {
        type: 'track', ...common, event: k % 2 === 0 ? 'Product Viewed' : 'Product Added',
        properties: { product_id: `sku-${4000 + k}`, sku: `RS-${4000 + k}-42`, name: 'Trail runner 42', brand: 'Example', category: 'Shoes', variant: 'blue', price: 89.99, quantity: 1, currency: 'EUR' },
      };
  }
}

/** The `/v1/batch` body as text with placeholders, and its size once they are replaced. */
export function batchTemplate(events: number, baseTime = Date.now()): { template: string; bytes: number } {
  const template = JSON.stringify({ batch: Array.from({ length: events }, (_, k) => batchEvent(k, baseTime)), sentAt: new Date(baseTime + 20_000).toISOString() });
  return { template, bytes: Buffer.byteLength(template.replaceAll(ID, 'c0123456t1r12345')) };
}

/** A wrk Lua script POSTing the template with fresh ids per request (prefix from `-- <prefix>`). */
export function writeWrkScript(file: string, template: string, headers: Readonly<Record<string, string>>): void {
  const pieces = template.split(ID);
  for (const p of pieces) if (p.includes(']==]')) throw new Error('batch template holds ]==]');
  const lua = [
    `local pieces = { ${pieces.map((p) => `[==[${p}]==]`).join(', ')} }`,
    `local headers = { ${Object.entries(headers).map(([k, v]) => `[${JSON.stringify(k)}] = ${JSON.stringify(v)}`).join(', ')} }`,
    'local n = #pieces',
    'local counter = 0',
    'local prefix = "x"',
    'local threads = 0',
    'function setup(thread) threads = threads + 1; thread:set("tid", threads) end',
    'function init(args) if args[1] ~= nil then prefix = args[1] end end',
    'function request()',
    '  counter = counter + 1',
    '  local id = prefix .. "t" .. tostring(tid) .. "r" .. counter',
    '  local buf = {}',
    '  for i = 1, n - 1 do buf[2 * i - 1] = pieces[i]; buf[2 * i] = id end',
    '  buf[2 * n - 1] = pieces[n]',
    `  return wrk.format("POST", ${JSON.stringify(BATCH_PATH)}, headers, table.concat(buf))`,
    'end',
    '',
  ].join('\n');
  writeFileSync(file, lua);
}

export interface WrkResult {
  readonly args: string[];
  readonly seconds: number;
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly non2xx: number;
  readonly socketErrors: { connect: number; read: number; write: number; timeout: number };
  /** wrk's own latency histogram (`--latency`): not corrected for coordinated omission. */
  readonly latencyMs: { mean: number; max: number; p50: number; p75: number; p90: number; p99: number };
  readonly cpuSeconds: { server: number; wrk: number } & Record<string, number>;
}

/** "812.00us", "4.80ms", "1.20s", "2.00m" -> milliseconds. */
function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v);
  if (m === null) return Number.NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

export function parseWrk(out: string): Omit<WrkResult, 'args' | 'cpuSeconds'> {
  const need = (re: RegExp): RegExpExecArray => {
    const m = re.exec(out);
    if (m === null) throw new Error(`wrk output lacks ${re.source}:\n${out}`);
    return m;
  };
  const lat = need(/Latency\s+(\S+)\s+\S+\s+(\S+)/);
  const pct = (p: number) => toMs(need(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm'))[1] ?? '');
  const total = need(/(\d+) requests in ([\d.]+)(\w+),/);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    seconds: toMs(`${total[2]}${total[3]}`) / 1000,
    requests: Number(total[1]),
    requestsPerSecond: Number(need(/Requests\/sec:\s+([\d.]+)/)[1]),
    non2xx: non2xx === null ? 0 : Number(non2xx[1]),
    socketErrors: { connect: Number(sock?.[1] ?? 0), read: Number(sock?.[2] ?? 0), write: Number(sock?.[3] ?? 0), timeout: Number(sock?.[4] ?? 0) },
    latencyMs: { mean: toMs(lat[1] ?? ''), max: toMs(lat[2] ?? ''), p50: pct(50), p75: pct(75), p90: pct(90), p99: pct(99) },
  };
}

export async function runWrk(o: {
  port: number; script: string; prefix: string; threads: number; connections: number; seconds: number;
  serverPid: number | 'self'; otherPids: Readonly<Record<string, number | 'self' | undefined>>;
}): Promise<WrkResult> {
  const args = ['-t', String(o.threads), '-c', String(o.connections), '-d', `${o.seconds}s`, '--timeout', '10s', '--latency', '-s', o.script, `http://${HOST}:${o.port}${BATCH_PATH}`, '--', o.prefix];
  const meter = new CpuMeter({ server: o.serverPid, ...o.otherPids }).start();
  const r = await runCommand('wrk', args, (o.seconds + 60) * 1000);
  const { cpuSeconds: measured } = meter.stop();
  const { 'reaped children': wrk = 0, server = 0, ...rest } = measured;
  if (r.code !== 0) throw new Error(`wrk failed (${r.code}): ${r.stderr}\n${r.stdout}`);
  return { args, ...parseWrk(r.stdout), cpuSeconds: { server, wrk, ...rest } };
}

export interface CollectorRun {
  readonly server: 'empty' | 'pulse';
  readonly attempt: number;
  readonly result: WrkResult;
  readonly eventsPerSecond: number;
  /** Pulse only: messages its events stream gained during the run (one per accepted request). */
  readonly streamMessagesAdded?: number;
}

export interface CollectorBench {
  readonly eventsPerBatch: number;
  readonly bodyBytes: number;
  readonly threads: number;
  readonly connections: number;
  readonly seconds: number;
  readonly runs: CollectorRun[];
  /** After the runs: until the processor had applied every event the collector accepted. */
  readonly applied: { events: number; seconds: number; complete: boolean };
}

export interface CollectorPlan {
  readonly eventsPerBatch: number;
  readonly threads: number;
  readonly connections: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly attempts: number;
  /** Longest wait for the processor to apply the accepted events afterwards. */
  readonly applyTimeoutMs: number;
}

/** Alternating wrk runs against the empty fastify handler and Pulse's collector; the best of each counts. */
export async function collectorBench(o: {
  root: string; tmp: string; pulse: BenchPulse; nc: NatsConnection; runId: string; plan: CollectorPlan;
  pids: Readonly<Record<string, number | 'self' | undefined>>;
}): Promise<CollectorBench> {
  const { pulse: p, plan } = o;
  const { template, bytes } = batchTemplate(plan.eventsPerBatch);
  const script = join(o.tmp, 'collector-batch.lua');
  writeWrkScript(script, template, {
    'Content-Type': 'application/json',
    Authorization: `Basic ${Buffer.from(`${p.apiKey}:`).toString('base64')}`,
  });
  log(`  request: POST ${BATCH_PATH}, ${plan.eventsPerBatch} events, ${bytes} bytes (~${Math.round(bytes / plan.eventsPerBatch)} bytes/event), Basic auth; `
    + `wrk -t ${plan.threads} -c ${plan.connections} -d ${plan.seconds}s --latency (after a ${plan.warmupSeconds} s warm-up run each)`);
  let empty: EmptyServer | undefined;
  const runs: CollectorRun[] = [];
  const processedBefore = (await p.scrape()).processed();
  let accepted = 0;
  try {
    const e = await startEmptyServer(o.root, 'empty-http-server.ts');
    empty = e;
    const probe = await fetch(`http://${HOST}:${e.port}${BATCH_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: template });
    if (probe.status !== 200) throw new Error(`empty fastify handler answered ${probe.status}`);
    const others = { 'redis-server': o.pids['redis-server'], 'nats-server': o.pids['nats-server'] };
    let seq = 0;
    const one = async (server: 'empty' | 'pulse', attempt: number, seconds: number, report: boolean): Promise<CollectorRun> => {
      const before = server === 'pulse' ? await eventsStreamMessages(o.nc, p.namespace) : 0;
      const result = await runWrk({
        port: server === 'pulse' ? p.httpPort : e.port, script, prefix: `${o.runId}${seq++}${server[0] ?? ''}`,
        threads: plan.threads, connections: plan.connections, seconds,
        serverPid: server === 'pulse' ? 'self' : e.pid,
        otherPids: { ...others, ...(server === 'empty' ? { 'node (bench + idle Pulse)': 'self' as const } : {}) },
      });
      const errors = result.socketErrors.connect + result.socketErrors.read + result.socketErrors.write + result.socketErrors.timeout;
      if (result.requests === 0 || result.non2xx > 0 || errors > 0) {
        throw new Error(`wrk ${server}: ${result.requests} requests, ${result.non2xx} non-2xx, socket errors ${JSON.stringify(result.socketErrors)}`);
      }
      let added: number | undefined;
      let extra = '';
      if (server === 'pulse') {
        // Requests still in flight when wrk stopped may be stored without being counted by wrk.
        await sleep(500);
        added = (await eventsStreamMessages(o.nc, p.namespace)) - before;
        accepted += added * plan.eventsPerBatch;
        if (added < result.requests || added > result.requests + plan.connections) {
          throw new Error(`wrk pulse: ${result.requests} requests answered 200, but the events stream gained ${added} messages`);
        }
        extra = `; events stream +${added} messages`;
      }
      const run: CollectorRun = { server, attempt, result, eventsPerSecond: Math.round(result.requestsPerSecond * plan.eventsPerBatch), ...(added === undefined ? {} : { streamMessagesAdded: added }) };
      log(`  ${server.padEnd(5)} ${report ? `#${attempt + 1}` : 'warm-up'} ${Math.round(result.requestsPerSecond)} req/s = ${run.eventsPerSecond} events/s, `
        + `p50 ${ms(result.latencyMs.p50)}, p99 ${ms(result.latencyMs.p99)} (${result.requests} requests, 0 non-2xx); CPU s server ${result.cpuSeconds.server}, wrk ${result.cpuSeconds.wrk}, `
        + `nats ${result.cpuSeconds['nats-server'] ?? 0}, redis ${result.cpuSeconds['redis-server'] ?? 0}, others ${result.cpuSeconds['other processes'] ?? 0}${extra}`);
      if (report) runs.push(run);
      return run;
    };
    await one('empty', 0, plan.warmupSeconds, false);
    await one('pulse', 0, plan.warmupSeconds, false);
    for (let k = 0; k < plan.attempts; k++) {
      await one('empty', k, plan.seconds, true);
      await one('pulse', k, plan.seconds, true);
    }
  } finally {
    await empty?.stop();
  }
  // The processor (same process) consumed while wrk ran; it is checked here that every accepted
  // event is applied, and how long the backlog took.
  const t0 = performance.now();
  const target = processedBefore + accepted;
  let processed = (await p.scrape()).processed();
  while (processed < target && performance.now() - t0 < plan.applyTimeoutMs) {
    await sleep(200);
    processed = (await p.scrape()).processed();
  }
  const applied = { events: accepted, seconds: round((performance.now() - t0) / 1000, 1), complete: processed >= target };
  log(`  processor: ${applied.complete ? `every accepted event (${accepted}) applied` : `${processed - processedBefore} of ${accepted} accepted events applied`} ${applied.seconds} s after the last wrk run`);
  return { eventsPerBatch: plan.eventsPerBatch, bodyBytes: bytes, threads: plan.threads, connections: plan.connections, seconds: plan.seconds, runs, applied };
}
