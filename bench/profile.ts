// `npm run bench -- --cpu-prof`: samples this process (Pulse runs in it) with the V8 profiler
// during a phase, writes a .cpuprofile (open in Chrome DevTools or speedscope) to the temp dir and
// prints where the self time went, by function and by package. Off by default: it slows Pulse.
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { log } from './util.ts';

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; hitCount?: number }
interface CpuProfile { nodes: ProfileNode[]; startTime: number; endTime: number; samples?: number[] }

export interface ProfileSummary {
  readonly file: string;
  readonly topFunctions: { name: string; selfPercent: number }[];
  readonly byPackage: { name: string; selfPercent: number }[];
}

export class CpuProfiler {
  readonly #session = new Session();
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
    this.#session.connect();
  }

  async start(): Promise<void> {
    await this.#session.post('Profiler.enable');
    await this.#session.post('Profiler.setSamplingInterval', { interval: 200 });
    await this.#session.post('Profiler.start');
  }

  async stop(label: string, root: string): Promise<ProfileSummary> {
    const { profile } = (await this.#session.post('Profiler.stop')) as unknown as { profile: CpuProfile };
    const file = join(this.#dir, `${label}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    const total = profile.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0) || 1;
    const byFn = new Map<string, number>();
    const byPkg = new Map<string, number>();
    for (const n of profile.nodes) {
      const hits = n.hitCount ?? 0;
      if (hits === 0) continue;
      const url = n.callFrame.url.replace(`file://${root}`, '');
      const name = `${n.callFrame.functionName || '(anonymous)'} ${url === '' ? '' : `${url}:${n.callFrame.lineNumber + 1}`}`.trim();
      byFn.set(name, (byFn.get(name) ?? 0) + hits);
      byPkg.set(packageOf(url, n.callFrame.functionName), (byPkg.get(packageOf(url, n.callFrame.functionName)) ?? 0) + hits);
    }
    const top = (m: Map<string, number>, k: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, hits]) => ({ name, selfPercent: Math.round((hits / total) * 1000) / 10 }));
    const summary = { file, topFunctions: top(byFn, 20), byPackage: top(byPkg, 12) };
    log(`  CPU profile ${label}: ${file}`);
    for (const p of summary.byPackage) log(`    ${String(p.selfPercent).padStart(5)}%  ${p.name}`);
    log('    top functions (self time):');
    for (const f of summary.topFunctions) log(`    ${String(f.selfPercent).padStart(5)}%  ${f.name}`);
    return summary;
  }

  close(): void {
    this.#session.disconnect();
  }
}

function packageOf(url: string, fn: string): string {
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm?.[1] !== undefined) return nm[1];
  if (url.startsWith('node:')) return 'node internals';
  if (url === '') return fn.startsWith('(') ? fn : 'native/V8';
  const own = /^\/(src|processors|bench)\/([^/]+)/.exec(url);
  return own === null ? url : `${own[1]}/${own[2]}`;
}
