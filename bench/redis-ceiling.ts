// Ceiling 1: redis-benchmark against the Redis Pulse uses. Keys carry the run's namespace prefix,
// so the namespace cleanup (SCAN + UNLINK) removes them; nothing is ever flushed.
import { CpuMeter, findServerPid, HOST, log, runCommand, which } from './util.ts';

export interface RedisBenchResult {
  readonly what: string;
  readonly command: 'GET' | 'SET';
  readonly clients: number;
  readonly pipeline: number;
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly avgMs: number;
  readonly wallSeconds: number;
  readonly cpuSeconds: Record<string, number>;
}

export interface RedisCeilingOptions {
  /** Key prefix, e.g. `bench_1a2b3c4d:rb:`. */
  readonly keyPrefix: string;
  readonly clients: number;
  readonly requests: number;
  readonly pipelinedRequests: number;
  readonly pipeline: number;
  /** Distinct keys (`-r`). */
  readonly keyspace: number;
}

/** SET then GET, each without and with pipelining. Undefined when redis-benchmark is missing. */
export async function redisCeiling(o: RedisCeilingOptions): Promise<RedisBenchResult[] | undefined> {
  if (which('redis-benchmark') === undefined) {
    log('redis-benchmark not found; install it with: sudo apt-get install redis-tools  (skipping)');
    return undefined;
  }
  const results: RedisBenchResult[] = [];
  const redisPid = findServerPid('redis-server', ':6379');
  // SET first so the GETs find their keys.
  for (const pipeline of [1, o.pipeline]) {
    for (const command of ['SET', 'GET'] as const) {
      const requests = pipeline === 1 ? o.requests : o.pipelinedRequests;
      const key = `${o.keyPrefix}__rand_int__`;
      const args = [
        '-h', HOST, '-p', '6379', '-c', String(o.clients), '-n', String(requests), '-r', String(o.keyspace), '--csv',
        ...(pipeline > 1 ? ['-P', String(pipeline)] : []),
        ...(command === 'SET' ? ['SET', key, 'xxx'] : ['GET', key]),
      ];
      const meter = new CpuMeter({ 'redis-server': redisPid }).start();
      const r = await runCommand('redis-benchmark', args, 120_000);
      const cpu = meter.stop();
      if (r.code !== 0) throw new Error(`redis-benchmark failed (${r.code}): ${r.stderr || r.stdout}`);
      const row = parseCsv(r.stdout);
      const what = `redis-benchmark ${command}, ${o.clients} clients${pipeline > 1 ? `, -P ${pipeline}` : ''}`;
      const { 'reaped children': tool = 0, ...servers } = cpu.cpuSeconds;
      results.push({ what, command, clients: o.clients, pipeline, requests, ...row, wallSeconds: cpu.wallSeconds, cpuSeconds: { ...servers, 'redis-benchmark': tool } });
      log(`  ${what}: ${Math.round(row.rps)} req/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms`);
    }
  }
  return results;
}

/** The data line of `--csv`: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms". */
function parseCsv(text: string): { rps: number; p50Ms: number; p99Ms: number; avgMs: number } {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('"'));
  const header = lines[0]?.split(',').map((c) => c.replaceAll('"', ''));
  const data = lines[1]?.split('","').map((c) => c.replaceAll('"', ''));
  if (header === undefined || data === undefined) throw new Error(`unexpected redis-benchmark output:\n${text}`);
  // The test name may hold commas; count columns from the end.
  const col = (name: string): number => {
    const fromEnd = header.length - header.indexOf(name);
    return Number(data[data.length - fromEnd]);
  };
  return { rps: col('rps'), p50Ms: col('p50_latency_ms'), p99Ms: col('p99_latency_ms'), avgMs: col('avg_latency_ms') };
}
