#!/usr/bin/env node
// `npm test`: everything CI runs, on a fresh clone: installs, makes sure NATS and Redis answer,
// checks generated types, type-checks, lints, then runs every tap test (unit, integration, e2e).
// Ends with one line `N passed, N failed` (each check counts as one; tap counts assertions).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Parser } from 'tap-parser';
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
const parser = new Parser({ flat: true });
tap.stdout.pipe(process.stdout);
tap.stdout.pipe(parser);
const [code, results] = await Promise.all([
  new Promise((resolve) => tap.on('close', resolve)),
  new Promise((resolve) => parser.on('complete', resolve)),
]);
passed += results.pass ?? 0;
failed += results.fail ?? 0;
if (code !== 0 && (results.fail ?? 0) === 0) failed++;
for (const f of results.failures ?? []) console.log(`failed: ${f.fullname || f.name}`);

const summary = `${passed} passed, ${failed} failed`;
mkdirSync(join(root, '.pulse'), { recursive: true });
writeFileSync(join(root, '.pulse', 'test-summary.txt'), `${summary}\n`);
console.log(summary);
process.exit(failed === 0 ? 0 : 1);
