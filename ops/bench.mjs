#!/usr/bin/env node
// `npm run bench`: installs dependencies when needed, then runs bench/run.ts through tsx's loader
// (as bin/pulse.mjs does for the CLI). Arguments after `--` reach the bench (--quick, --cpu-prof).
import { ensureInstall } from './ensure-install.mjs';

ensureInstall();
const { register } = await import('tsx/esm/api');
register();
const { main } = await import('../bench/run.ts');
process.exit(await main(process.argv.slice(2)));
