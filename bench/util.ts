// Small helpers shared by the bench modules: child processes, /proc CPU accounting, formatting.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

/** Where every bench connection goes: nothing leaves the machine. */
export const HOST = '127.0.0.1';
export const NATS_URL = `nats://${HOST}:4222`;
export const REDIS_URL = `redis://${HOST}:6379`;

export interface CommandResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

/** Runs a command to completion, capturing its output; kills it after `timeoutMs`. */
export function runCommand(cmd: string, args: readonly string[], timeoutMs = 120_000): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => { clearTimeout(timer); reject(e); });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), seconds: (performance.now() - started) / 1000 });
    });
  });
}

/** True when `name` is an executable on PATH. */
export function which(name: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = r.stdout.trim();
  return r.status === 0 && path !== '' ? path : undefined;
}

/** First line of a command's output, or undefined when it fails. */
export function firstLine(cmd: string, args: readonly string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  return `${r.stdout}${r.stderr}`.split('\n').find((l) => l.trim() !== '')?.trim();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A short random lowercase suffix for namespaces, streams and keys of this run. */
export function randomSuffix(bytes = 4): string {
  return randomBytes(bytes).toString('hex');
}

// --- CPU accounting from /proc (Linux) -------------------------------------------------------

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function statFields(pid: number | 'self'): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds a process has used so far. */
export function cpuSeconds(pid: number | 'self'): number | undefined {
  const f = statFields(pid);
  if (f === undefined) return undefined;
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

/** CPU seconds of this process's children that have exited and were reaped (h2load, redis-benchmark). */
export function reapedChildrenCpuSeconds(): number {
  const f = statFields('self');
  return f === undefined ? 0 : (Number(f[13]) + Number(f[14])) / CLK_TCK;
}

/** The pid of a running server by command name, preferring one whose command line holds `hint`. */
export function findServerPid(comm: string, hint: string): number | undefined {
  const found: { pid: number; cmdline: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== comm) continue;
      found.push({ pid: Number(entry), cmdline: readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ') });
    } catch {
      // the process ended meanwhile
    }
  }
  return (found.find((p) => p.cmdline.includes(hint)) ?? found[0])?.pid;
}

/** Busy CPU seconds of the whole machine (all cores) so far, from /proc/stat. */
export function machineBusySeconds(): number {
  try {
    const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0)) / CLK_TCK;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds used by named processes over a phase, plus `reaped children` (exited children of
 * this process: redis-benchmark, h2load) and `other processes`: whatever else kept the machine
 * busy meanwhile (other work on a shared box shows up here).
 */
export class CpuMeter {
  readonly #pids: ReadonlyMap<string, number | 'self'>;
  #start = new Map<string, number>();
  #t0 = 0;

  constructor(pids: Readonly<Record<string, number | 'self' | undefined>>) {
    const m = new Map<string, number | 'self'>();
    for (const [name, pid] of Object.entries(pids)) if (pid !== undefined) m.set(name, pid);
    this.#pids = m;
  }

  start(): this {
    this.#t0 = performance.now();
    this.#start = this.#sample();
    return this;
  }

  /** CPU seconds per process and the wall seconds of the phase. */
  stop(): { wallSeconds: number; cpuSeconds: Record<string, number> } {
    const end = this.#sample();
    const cpu: Record<string, number> = {};
    let tracked = 0;
    for (const [name, v] of end) {
      const d = v - (this.#start.get(name) ?? v);
      if (name !== 'machine') {
        cpu[name] = round(d, 2);
        tracked += d;
      }
    }
    const machine = (end.get('machine') ?? 0) - (this.#start.get('machine') ?? 0);
    cpu['other processes'] = round(Math.max(0, machine - tracked), 2);
    return { wallSeconds: round((performance.now() - this.#t0) / 1000, 3), cpuSeconds: cpu };
  }

  #sample(): Map<string, number> {
    const m = new Map<string, number>();
    for (const [name, pid] of this.#pids) {
      const s = cpuSeconds(pid);
      if (s !== undefined) m.set(name, s);
    }
    m.set('reaped children', reapedChildrenCpuSeconds());
    m.set('machine', machineBusySeconds());
    return m;
  }
}

// --- formatting -------------------------------------------------------------------------------

export function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** 74123 -> "74.1k", 1032000 -> "1.03M". */
export function si(n: number): string {
  if (!Number.isFinite(n)) return '—';
  if (n >= 1e6) return `${(n / 1e6).toPrecision(3)}M`;
  if (n >= 1e3) return `${(n / 1e3).toPrecision(3)}k`;
  return n.toPrecision(3);
}

/** Milliseconds with sensible precision, or a dash. */
export function ms(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '—';
  if (n >= 100) return `${n.toFixed(0)} ms`;
  if (n >= 10) return `${n.toFixed(1)} ms`;
  return `${n.toFixed(2)} ms`;
}

export function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

/**
 * The V8 heap flags this bench runs with (package.json's `bench` script, as `start`'s), for every
 * Node child it starts: the servers it compares run with the same young generation.
 */
export const NODE_FLAGS: readonly string[] = process.execArgv.filter((a) => a.startsWith('--max-semi-space-size'));
