// Installs dependencies when node_modules is missing or was installed from another lockfile, so
// `npm start` and `npm test` work on a fresh clone.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const root = fileURLToPath(new URL('..', import.meta.url));

/** Runs `npm install` unless node_modules was installed from this package-lock.json. */
export function ensureInstall() {
  const lockHash = () => createHash('sha256').update(readFileSync(join(root, 'package-lock.json'))).digest('hex');
  const want = lockHash();
  const marker = join(root, 'node_modules', '.pulse-installed');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === want) return;
  console.log('installing dependencies (npm install)...');
  // Not `npm ci`: chdb lists platform packages the registry may not serve, which `npm ci` refuses.
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('npm install failed');
    process.exit(r.status ?? 1);
  }
  writeFileSync(marker, lockHash());
}
