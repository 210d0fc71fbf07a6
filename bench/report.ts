// The outputs of a run: the console table, the JSON file under bench/results/ and the results
// block of bench/README.md (between the markers; the rest of the README is left as written).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, type as osType } from 'node:os';
import { join } from 'node:path';
import { firstLine } from './util.ts';

/** One line of the table. */
export interface Row {
  readonly what: string;
  readonly rate: string;
  readonly p50: string;
  readonly p99: string;
  /** What the row is compared with, or empty. */
  readonly ceiling: string;
  readonly ratio: string;
}

export interface Machine {
  readonly nproc: string;
  readonly freeG: string;
  readonly cpuModel: string;
  readonly kernel: string;
  readonly node: string;
  readonly redis: string;
  readonly nats: string;
  readonly h2load: string;
}

export function machineFacts(): Machine {
  const free = spawnSync('free', ['-g'], { encoding: 'utf8' });
  return {
    nproc: firstLine('nproc', []) ?? String(cpus().length),
    freeG: free.status === 0 ? free.stdout.trimEnd() : 'free -g unavailable',
    cpuModel: cpus()[0]?.model ?? 'unknown',
    kernel: `${osType()} ${release()}`,
    node: process.version,
    redis: firstLine('redis-server', ['--version']) ?? 'not found',
    nats: firstLine('nats-server', ['--version']) ?? 'not found',
    h2load: firstLine('h2load', ['--version']) ?? 'not found',
  };
}

const HEAD: readonly (keyof Row)[] = ['what', 'rate', 'p50', 'p99', 'ceiling', 'ratio'];
const TITLES: Record<keyof Row, string> = { what: 'what', rate: 'rate', p50: 'p50', p99: 'p99', ceiling: 'ceiling (same run)', ratio: 'ratio' };

/** A fixed-width table for the terminal. */
export function consoleTable(rows: readonly Row[]): string {
  const widths = HEAD.map((k) => Math.max(TITLES[k].length, ...rows.map((r) => r[k].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(HEAD.map((k) => TITLES[k])), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(HEAD.map((k) => r[k])))].join('\n');
}

export function markdownTable(rows: readonly Row[]): string {
  const esc = (s: string) => s.replaceAll('|', '\\|');
  return [
    `| ${HEAD.map((k) => TITLES[k]).join(' | ')} |`,
    `|${HEAD.map((k) => (k === 'what' || k === 'ceiling' ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${HEAD.map((k) => esc(r[k] === '' ? '' : r[k])).join(' | ')} |`),
  ].join('\n');
}

/** `20250101T120000Z`: ISO 8601 basic format, safe in file names on every OS. */
export function isoBasic(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z').replaceAll('-', '').replaceAll(':', '');
}

export function writeJson(root: string, startedAt: Date, data: unknown): string {
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${isoBasic(startedAt)}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

/** Replaces a block of bench/README.md (`results`, or a phase's own, e.g. `segments`), creating the README when missing. */
export function updateReadme(root: string, block: string, name = 'results'): string {
  const START = `<!-- bench:${name}:start (written by \`npm run bench\`; edits inside are replaced) -->`;
  const END = `<!-- bench:${name}:end -->`;
  const file = join(root, 'bench', 'README.md');
  const body = `${START}\n${block.trim()}\n${END}`;
  if (!existsSync(file)) {
    writeFileSync(file, `# Pulse benchmarks\n\n${body}\n`);
    return file;
  }
  const text = readFileSync(file, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  const next = a >= 0 && b > a ? `${text.slice(0, a)}${body}${text.slice(b + END.length)}` : `${text.trimEnd()}\n\n${body}\n`;
  writeFileSync(file, next);
  return file;
}

/** The results block: when, where, the table and the notes of this run. */
export function resultsBlock(o: {
  startedAt: Date; seconds: number; jsonFile: string; machine: Machine & { loadAverageAtStart?: string; otherCoresBusyAtStart?: number }; rows: readonly Row[]; notes: readonly string[];
}): string {
  return [
    `## Latest results (${o.startedAt.toISOString().replace(/\.\d{3}Z$/, 'Z')}, ${Math.round(o.seconds)} s run)`,
    '',
    markdownTable(o.rows),
    '',
    ...o.notes.map((n) => `- ${n}`),
    '',
    `Raw figures (CPU seconds per process, h2load summaries, batch counts...): [\`${o.jsonFile}\`](${o.jsonFile.replace(/^bench\//, '')}).`,
    '',
    '### Machine',
    '',
    `- \`nproc\`: ${o.machine.nproc}; CPU: ${o.machine.cpuModel}; ${o.machine.kernel}`,
    `- Node ${o.machine.node}; ${o.machine.redis}; ${o.machine.nats}; ${o.machine.h2load}`,
    ...(o.machine.loadAverageAtStart === undefined ? [] : [`- At the start: load average ${o.machine.loadAverageAtStart}; other processes kept ${o.machine.otherCoresBusyAtStart ?? '?'} cores busy`]),
    '- `free -g`:',
    '',
    '```',
    o.machine.freeG,
    '```',
  ].join('\n');
}
