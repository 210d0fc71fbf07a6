// Installs dependencies when node_modules is missing or was installed from another lockfile, so
// `npm start` and `npm test` work on a fresh clone.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const root = fileURLToPath(new URL('..', import.meta.url));

/** Runs `npm ci` unless node_modules matches package-lock.json. */
export function ensureInstall() {
  const lock = readFileSync(join(root, 'package-lock.json'));
  const want = createHash('sha256').update(lock).digest('hex');
  const marker = join(root, 'node_modules', '.pulse-installed');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === want) return;
  console.log('installing dependencies (npm ci)...');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('npm ci failed');
    process.exit(r.status ?? 1);
  }
  writeFileSync(marker, want);
}
