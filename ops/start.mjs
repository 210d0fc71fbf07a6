#!/usr/bin/env node
// `npm start`: installs dependencies when needed, then runs `pulse start` in this process (so
// SIGINT/SIGTERM reach Pulse's own drain logic directly).
import { ensureInstall } from './ensure-install.mjs';

ensureInstall();
process.argv.splice(2, 0, 'start');
await import('../bin/pulse.mjs');
