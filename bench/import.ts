// `pulse import` of a large CRM export: the CSV is generated (streamed) in the temp dir, then
// `node bin/pulse.mjs import <file> --tenant bench --mapping <m>` runs as a child process against
// the bench Pulse's NATS and namespace, under /usr/bin/time -v when present (peak RSS, CPU).
// Progress is read from the events stream (one message per batch of rows).
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { BENCH_TENANT, eventsStreamMessages, type BenchPulse } from './pulse-harness.ts';
import { CpuMeter, log, NATS_URL, REDIS_URL, round, si, sleep, which } from './util.ts';

const PLANS = ['free', 'starter', 'pro', 'enterprise'] as const;
const COUNTRIES = ['FR', 'DE', 'US', 'GB', 'ES', 'IT', 'NL', 'BE'] as const;
const CITIES = ['Paris', 'Berlin', 'New York', 'London', 'Madrid', 'Milan', 'Amsterdam', 'Brussels'] as const;
const FIRST = ['Ann', 'Bob', 'Chloé', 'David', 'Eva', 'Farid', 'Greta', 'Hugo', 'Inès', 'Jonas'] as const;
const LAST = ['Martin', 'Müller', 'Smith', 'García', 'Rossi', 'de Vries', 'Dubois', 'Jones'] as const;

export const CSV_HEADER = 'customer_id,email,first_name,last_name,plan,country,city,lifetime_value,orders,newsletter,signup_date,updated_at';

/** Row `i` of the CRM export (~150 bytes); every 10th email has odd case and spaces, as CRMs do. */
function csvRow(runId: string, i: number): string {
  const first = FIRST[i % FIRST.length] ?? 'Ann';
  const last = LAST[(i >> 3) % LAST.length] ?? 'Martin';
  const email = `${first.toLowerCase().replace('é', 'e').replace('è', 'e')}.${i}.${runId}@example.com`;
  const country = i % COUNTRIES.length;
  const day = 1 + (i % 28);
  return [
    `C-${runId}-${i}`, i % 10 === 0 ? ` ${email.toUpperCase()} ` : email, first, last.includes(' ') ? `"${last}"` : last,
    PLANS[i % PLANS.length], COUNTRIES[country], CITIES[country], ((i * 7919) % 500_000 / 100).toFixed(2), String(i % 57),
    i % 3 === 0 ? 'yes' : 'no', `2021-${String(1 + (i % 12)).padStart(2, '0')}-${String(day).padStart(2, '0')}`,
    `2026-11-${String(day).padStart(2, '0')} ${String(i % 24).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00`,
  ].join(',');
}

/** Writes `rows` rows (plus the header) to `file`, streamed with back-pressure; returns its size in bytes. */
export async function writeCrmCsv(file: string, runId: string, rows: number): Promise<number> {
  const out = createWriteStream(file);
  const write = async (s: string) => {
    if (!out.write(s)) await once(out, 'drain');
  };
  await write(`${CSV_HEADER}\n`);
  const chunk: string[] = [];
  for (let i = 0; i < rows; i++) {
    chunk.push(csvRow(runId, i));
    if (chunk.length === 1000) {
      await write(`${chunk.join('\n')}\n`);
      chunk.length = 0;
    }
  }
  if (chunk.length > 0) await write(`${chunk.join('\n')}\n`);
  out.end();
  await once(out, 'close');
  return statSync(file).size;
}

export const CRM_MAPPING = {
  type: 'identify', userId: 'customer_id', timestamp: 'updated_at',
  traits: {
    email: 'email', first_name: 'first_name', last_name: 'last_name', plan: { column: 'plan', as: 'lowercase' }, country: 'country', city: 'city',
    ltv: { column: 'lifetime_value', as: 'number' }, orders: { column: 'orders', as: 'number' }, newsletter: { column: 'newsletter', as: 'boolean' },
    signup_date: { column: 'signup_date', as: 'date' },
  },
  context: { channel: 'offline' },
};

export interface ImportBench {
  readonly rows: number;
  readonly fileBytes: number;
  readonly generateSeconds: number;
  /** Wall time of the child, start to exit. */
  readonly seconds: number;
  readonly rowsPerSecond: number;
  /** What the CLI printed as its summary line. */
  readonly summary: string;
  readonly accepted: number;
  readonly rejected: number;
  readonly streamMessagesAdded: number;
  /** Maximum resident set size of the child, from /usr/bin/time -v or /proc VmHWM. */
  readonly peakRssMb: number | undefined;
  readonly peakRssSource: string;
  readonly childCpuSeconds: { user: number; system: number } | undefined;
  readonly cpuSeconds: Record<string, number>;
  /** From the start of the import until the processor had applied every accepted row. */
  readonly applied: { events: number; seconds: number; complete: boolean; eventsPerSecond: number };
}

export interface ImportPlan {
  readonly rows: number;
  /** Longest wait for the processor after the import ended. */
  readonly applyTimeoutMs: number;
  readonly timeoutMs: number;
}

/** Environment for the CLI: the caller's, without any PULSE_*, plus the bench namespace and servers. */
function cliEnv(namespace: string, dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PULSE_')) env[k] = v;
  return { ...env, PULSE_NAMESPACE: namespace, PULSE_NATS_URL: NATS_URL, PULSE_REDIS_URL: REDIS_URL, PULSE_DATA_DIR: dataDir, PULSE_LOG_LEVEL: 'warn' };
}

function vmHwmMb(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : round(Number(m[1]) / 1024, 1);
  } catch {
    return undefined;
  }
}

export async function importBench(o: {
  root: string; tmp: string; pulse: BenchPulse; nc: NatsConnection; runId: string; plan: ImportPlan;
  pids: Readonly<Record<string, number | 'self' | undefined>>;
}): Promise<ImportBench> {
  const { pulse: p, plan } = o;
  const file = join(o.tmp, `crm-${plan.rows}.csv`);
  const mappingFile = join(o.tmp, 'crm-mapping.json');
  writeFileSync(mappingFile, JSON.stringify(CRM_MAPPING));
  const g0 = performance.now();
  const fileBytes = await writeCrmCsv(file, o.runId, plan.rows);
  const generateSeconds = round((performance.now() - g0) / 1000, 1);
  log(`  generated ${file}: ${si(plan.rows)} rows, ${round(fileBytes / 1e6, 1)} MB in ${generateSeconds} s`);

  const time = which('time') === undefined ? undefined : '/usr/bin/time';
  const cmd = [process.execPath, join(o.root, 'bin', 'pulse.mjs'), 'import', file, '--tenant', BENCH_TENANT, '--mapping', mappingFile];
  const streamBefore = await eventsStreamMessages(o.nc, p.namespace);
  const processedBefore = (await p.scrape()).processed();
  const meter = new CpuMeter({ 'node (bench + Pulse)': 'self', 'nats-server': o.pids['nats-server'], 'redis-server': o.pids['redis-server'] }).start();
  const t0 = performance.now();
  const child = spawn(time ?? cmd[0] ?? 'node', time === undefined ? cmd.slice(1) : ['-v', ...cmd], { cwd: o.root, env: cliEnv(p.namespace, join(o.tmp, 'cli-data')), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString('utf8'); });
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString('utf8'); });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', reject);
  });
  let code: number | null | undefined;
  void exited.then((c) => { code = c; }, () => undefined);
  // Progress every 10 s; without /usr/bin/time, the peak RSS is VmHWM of the node child itself.
  let hwm: number | undefined;
  let lastReport = performance.now();
  const timer = setTimeout(() => child.kill('SIGKILL'), plan.timeoutMs);
  while (code === undefined) {
    await Promise.race([exited, sleep(500)]).catch(() => undefined);
    if (time === undefined && child.pid !== undefined) hwm = vmHwmMb(child.pid) ?? hwm;
    if (code === undefined && performance.now() - lastReport >= 10_000) {
      lastReport = performance.now();
      const rows = ((await eventsStreamMessages(o.nc, p.namespace)) - streamBefore) * 500;
      const processed = (await p.scrape()).processed() - processedBefore;
      log(`  ... ${Math.round((performance.now() - t0) / 1000)} s: ~${si(rows)} rows published (500 a message), ${si(processed)} applied by the processor`);
    }
  }
  clearTimeout(timer);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = meter.stop();
  if (code !== 0) throw new Error(`pulse import exited with ${code}:\n${stdout}\n${stderr.slice(-4000)}`);
  const summary = stdout.split('\n').find((l) => /^(imported|interrupted)/.test(l)) ?? stdout.trim();
  const counts = /(\d+) accepted, (\d+) rejected/.exec(summary);
  const accepted = Number(counts?.[1] ?? Number.NaN);
  const rejected = Number(counts?.[2] ?? Number.NaN);
  if (accepted !== plan.rows) throw new Error(`pulse import accepted ${accepted} of ${plan.rows} rows: ${summary}\n${stderr.slice(-4000)}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  const user = /User time \(seconds\): ([\d.]+)/.exec(stderr);
  const sys = /System time \(seconds\): ([\d.]+)/.exec(stderr);
  const peakRssMb = rss === null ? hwm : round(Number(rss[1]) / 1024, 1);
  const streamMessagesAdded = (await eventsStreamMessages(o.nc, p.namespace)) - streamBefore;
  rmSync(file, { force: true });
  log(`  pulse import: ${si(plan.rows / seconds)} rows/s (${round(seconds, 1)} s wall), peak RSS ${peakRssMb ?? '?'} MB; ${summary}; events stream +${streamMessagesAdded} messages`);

  // The processor applies the rows meanwhile and afterwards (same Pulse as every other phase).
  const target = processedBefore + accepted;
  let processed = (await p.scrape()).processed();
  const waitStart = performance.now();
  lastReport = waitStart;
  while (processed < target && performance.now() - waitStart < plan.applyTimeoutMs) {
    await sleep(500);
    processed = (await p.scrape()).processed();
    if (performance.now() - lastReport >= 10_000) {
      lastReport = performance.now();
      log(`  ... processor: ${si(processed - processedBefore)} of ${si(accepted)} rows applied, ${Math.round((performance.now() - t0) / 1000)} s after the import started`);
    }
  }
  const appliedSeconds = (performance.now() - t0) / 1000;
  const appliedEvents = processed - processedBefore;
  const applied = { events: appliedEvents, seconds: round(appliedSeconds, 1), complete: processed >= target, eventsPerSecond: Math.round(appliedEvents / appliedSeconds) };
  log(`  processor: ${applied.complete ? 'every row' : `${appliedEvents} of ${accepted} rows (gave up waiting)`} applied ${applied.seconds} s after the import started (${applied.eventsPerSecond} events/s)`);
  return {
    rows: plan.rows, fileBytes, generateSeconds, seconds: round(seconds, 2), rowsPerSecond: Math.round(plan.rows / seconds), summary, accepted, rejected, streamMessagesAdded,
    peakRssMb, peakRssSource: rss !== null ? '/usr/bin/time -v' : 'VmHWM (/proc, sampled every 0.5 s)',
    childCpuSeconds: user === null || sys === null ? undefined : { user: Number(user[1]), system: Number(sys[1]) },
    cpuSeconds: cpu.cpuSeconds, applied,
  };
}
