// `npm run bench -- --only enrich-floor`: where EnrichBidRequest's time goes. The same h2load load
// as the activation phase against five handlers in child processes (bench/enrich-floor-server.ts):
// the empty handler, one that answers the request's bytes back, one that also authenticates and
// JSON.parses it, one that authenticates and reads it as Pulse does (scanBidRequest), and Pulse's
// own handler. Rounds
// alternate the handlers; each handler's best round counts (other load only ever lowers a rate).
// Writes nothing into the repository.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey } from '../src/auth/keys.ts';
import { enrichFixture, enrichOnce, FIXTURE, writeEnrichBody } from './activation.ts';
import { runH2load, startEmptyServer } from './h2load.ts';
import { log, ms, round, si } from './util.ts';

const VARIANTS = [
  { name: 'empty', what: 'the empty grpc-js handler (answers an empty message)' },
  { name: 'echo', what: 'answers the request bytes back (transport of the answer)' },
  { name: 'parse-echo', what: '+ Pulse\'s auth/metrics wrapper, UTF-8 check and JSON.parse' },
  { name: 'scan-echo', what: '+ Pulse\'s auth/metrics wrapper and scanBidRequest (Pulse\'s read of the request)' },
  { name: 'pulse', what: 'Pulse\'s EnrichBidRequest handler, user in the near-cache' },
] as const;

export async function enrichFloorMain(o: { root: string; quick: boolean }): Promise<void> {
  const rounds = o.quick ? 1 : 3;
  const seconds = o.quick ? 2 : 4;
  const warmupSeconds = o.quick ? 1 : 2;
  const tmp = mkdtempSync(join(tmpdir(), 'pulse-enrich-floor-'));
  try {
    const json = enrichFixture(o.root);
    const bodyFile = join(tmp, 'enrich-bid-request.bin');
    const frameBytes = writeEnrichBody(bodyFile, json);
    const apiKey = generateKey();
    log(`EnrichBidRequest floor: ${FIXTURE} (${json.byteLength} bytes, ${frameBytes}-byte gRPC frame), h2load -c 16 -m 8 -t 1, ${seconds} s after ${warmupSeconds} s warm-up, ${rounds} alternating round(s)`);
    const best = new Map<string, number>();
    const all = new Map<string, number[]>();
    for (let r = 0; r < rounds; r++) {
      for (const v of VARIANTS) {
        const server = await startEmptyServer(o.root, 'enrich-floor-server.ts', [v.name, apiKey]);
        try {
          const answer = await enrichOnce(server.port, apiKey, json);
          const enriched = v.name === 'pulse';
          if (answer.enriched !== enriched) throw new Error(`${v.name}: answered enriched=${answer.enriched}`);
          const result = await runH2load({
            port: server.port, path: '/pulse.v1.TargetingService/EnrichBidRequest', bodyFile,
            headers: ['content-type: application/grpc', 'te: trailers', `authorization: Bearer ${apiKey}`],
            clients: 16, streams: 8, durationSeconds: seconds, warmupSeconds,
            logFile: join(tmp, `h2load-${v.name}-${r}.log`), serverPid: server.pid,
          });
          if (result.status2xx === 0 || result.statusOther > 0 || result.errored > 0) throw new Error(`${v.name}: ${result.status2xx} 2xx, ${result.statusOther} other, ${result.errored} errored`);
          const rate = Math.round(result.requestsPerSecond);
          all.set(v.name, [...(all.get(v.name) ?? []), rate]);
          best.set(v.name, Math.max(best.get(v.name) ?? 0, rate));
          log(`  round ${r + 1} ${v.name.padEnd(17)} ${rate} calls/s, p99 ${ms(result.percentilesMs.p99)}; CPU s server ${result.cpuSeconds.server}`);
        } finally {
          await server.stop();
        }
      }
    }
    const empty = best.get('empty') ?? 0;
    log('\n| handler | best calls/s | ratio to empty | rounds |\n|---|---:|---:|---|');
    for (const v of VARIANTS) {
      const rate = best.get(v.name) ?? 0;
      log(`| ${v.name}: ${v.what} | ${si(rate)} | ${empty > 0 ? round(rate / empty, 2).toFixed(2) : '—'} | ${(all.get(v.name) ?? []).join(', ')} |`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
