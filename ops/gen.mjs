#!/usr/bin/env node
// Generates TypeScript types for proto/ into src/gen. With --check, generates into a temporary
// folder and fails when src/gen differs, so stale types cannot pass `npm test`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');

function protoFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? protoFiles(p) : name.endsWith('.proto') ? [p] : [];
  });
}

function generate(outDir) {
  rmSync(outDir, { recursive: true, force: true });
  const files = protoFiles(join(root, 'proto')).map((f) => relative(join(root, 'proto'), f)).sort();
  const bin = join(root, 'node_modules', '.bin', 'proto-loader-gen-types');
  const r = spawnSync(bin, [
    '--longs=String', '--enums=String', '--defaults', '--oneofs', '--includeComments',
    '--grpcLib=@grpc/grpc-js', '--importFileExtension=.js',
    '-I', join(root, 'proto'), '-O', outDir, ...files,
  ], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  // The generator writes the absolute proto path into each file; keep src/gen independent of
  // where the repository is cloned.
  for (const f of listing(outDir)) {
    const p = join(outDir, f);
    writeFileSync(p, readFileSync(p, 'utf8').replaceAll(`Original file: ${root}`, 'Original file: '));
  }
}

function listing(dir) {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort();
}

const target = join(root, 'src', 'gen');
if (!check) {
  generate(target);
  console.log(`generated ${listing(target).length} files into src/gen`);
} else {
  const tmp = mkdtempSync(join(tmpdir(), 'pulse-gen-'));
  try {
    generate(tmp);
    const want = listing(tmp);
    let have = [];
    try { have = listing(target); } catch { /* missing folder: reported below */ }
    const stale = want.filter((f) => !have.includes(f) || readFileSync(join(tmp, f), 'utf8') !== readFileSync(join(target, f), 'utf8'));
    const extra = have.filter((f) => !want.includes(f));
    if (stale.length || extra.length) {
      console.error(`src/gen is out of date with proto/ (run \`npm run gen\`): ${[...stale, ...extra].join(', ')}`);
      process.exit(1);
    }
    console.log(`src/gen is up to date (${want.length} files)`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
