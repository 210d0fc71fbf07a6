#!/usr/bin/env node
// `npm test`: everything CI runs, on a fresh clone: installs, makes sure NATS and Redis answer,
// checks generated types, type-checks, lints, then runs every tap test (unit, integration, e2e).
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

const tapArgs = ['--reporter=tap', ...process.argv.slice(2)];
const tap = spawn(join(root, 'node_modules/.bin/tap'), tapArgs, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
// Counts assertions: TAP lines `ok N - ...` / `not ok N - ...` at any depth, except the summary
// line of a subtest (tap ends those with `# time=...`) and skipped or todo points.
const failures = [];
let buffer = '';
let tapPassed = 0;
let tapFailed = 0;
const countLine = (line) => {
  const m = /^\s*(not )?ok \d+ - (.*)$/.exec(line);
  if (m === null || /# (time=[\d.]+m?s|SKIP|TODO)/i.test(m[2])) return;
  if (m[1]) {
    tapFailed++;
    failures.push(m[2]);
  } else tapPassed++;
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
passed += tapPassed;
failed += tapFailed;
if (code !== 0 && tapFailed === 0) failed++;
for (const f of failures) console.log(`failed: ${f}`);

const summary = `${passed} passed, ${failed} failed`;
mkdirSync(join(root, '.pulse'), { recursive: true });
writeFileSync(join(root, '.pulse', 'test-summary.txt'), `${summary}\n`);
console.log(summary);
process.exit(failed === 0 ? 0 : 1);
