#!/usr/bin/env node
// `npm test`: everything CI runs, on a fresh clone: installs, makes sure NATS and Redis answer,
// checks generated types, type-checks, lints, then runs every tap test (unit, integration, e2e),
// and the layout-neutral suites again under the per-profile Redis layout.
// Ends with one line `N passed, N failed` (each check counts as one; tap counts assertions).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureInstall, root } from './ensure-install.mjs';

ensureInstall();
let passed = 0;
let failed = 0;

function step(name, command, args) {
  const started = Date.now();
  const r = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  const ok = r.status === 0;
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok' : 'not ok'} - ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return ok;
}

if (!step('services: NATS and Redis answer', process.execPath, [join(root, 'bin/pulse.mjs'), 'stack', 'up'])) {
  console.error('NATS or Redis is not available; integration and e2e tests would fail.');
}
step('generated types are up to date (npm run gen:check)', process.execPath, [join(root, 'ops/gen.mjs'), '--check']);
step('type check (tsc)', join(root, 'node_modules/.bin/tsc'), ['--noEmit', '-p', 'tsconfig.json']);
step('lint (eslint)', join(root, 'node_modules/.bin/eslint'), ['.']);

/**
 * Suites run a second time under the per-profile Redis layout (PULSE_TEST_REDIS_LAYOUT=profile:
 * the Pulse processes they start get PULSE_REDIS_LAYOUT=profile, the real-time harness builds the
 * v2 stores, test/support/keys.ts reads v2 keys). The layout's own tests (*-v2, merge-protocol,
 * migrate-layout, redis-cluster-profile...) run in the first pass. Not here: test/e2e/near-cache
 * (the cache sits above either layout's reader, and its 50 ms wall-clock bound, measured in the
 * first pass, gave one 72 ms outlier of 25 rounds here with the other suites loading the 2 cores).
 */
const PROFILE_LAYOUT_SUITES = [
  'test/e2e/skeleton.test.ts', 'test/e2e/targeting.test.ts', 'test/e2e/segment-lifecycle.test.ts', 'test/e2e/unmerge.test.ts',
  'test/e2e/crash-recovery.test.ts', 'test/e2e/inventory.test.ts', 'test/e2e/outcomes.test.ts',
  'test/e2e/consent-cache.test.ts', 'test/integration/realtime-segments.test.ts', 'test/integration/time-exits.test.ts',
  'test/integration/backfill-resume.test.ts',
];

/**
 * Runs tap and counts assertions: TAP lines `ok N - ...` / `not ok N - ...` at any depth, except
 * the summary line of a subtest (tap ends those with `# time=...`) and skipped or todo points.
 */
async function runTap(args, env, label) {
  const tap = spawn(join(root, 'node_modules/.bin/tap'), ['--reporter=tap', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  let buffer = '';
  const out = { passed: 0, failed: 0, failures: [] };
  const countLine = (line) => {
    const m = /^\s*(not )?ok \d+ - (.*)$/.exec(line);
    if (m === null || /# (time=[\d.]+m?s|SKIP|TODO)/i.test(m[2])) return;
    if (m[1]) {
      out.failed++;
      out.failures.push(`${label}${m[2]}`);
    } else out.passed++;
  };
  tap.stdout.on('data', (chunk) => {
    process.stdout.write(chunk);
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    lines.forEach(countLine);
  });
  const code = await new Promise((resolve) => tap.on('close', resolve));
  countLine(buffer);
  if (code !== 0 && out.failed === 0) {
    out.failed++;
    out.failures.push(`${label}tap exited with ${code}`);
  }
  return out;
}

const explicit = process.argv.slice(2);
const runs = [await runTap(explicit, {}, '')];
// With explicit files or options, only what was asked; the full run adds the second layout.
if (explicit.length === 0) {
  const started = Date.now();
  console.log('# the same suites under PULSE_REDIS_LAYOUT=profile');
  runs.push(await runTap(PROFILE_LAYOUT_SUITES, { PULSE_TEST_REDIS_LAYOUT: 'profile' }, '[profile layout] '));
  console.log(`# profile layout pass: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
for (const r of runs) {
  passed += r.passed;
  failed += r.failed;
  for (const f of r.failures) console.log(`failed: ${f}`);
}

const summary = `${passed} passed, ${failed} failed`;
mkdirSync(join(root, '.pulse'), { recursive: true });
writeFileSync(join(root, '.pulse', 'test-summary.txt'), `${summary}\n`);
console.log(summary);
process.exit(failed === 0 ? 0 : 1);
