#!/usr/bin/env -S node --max-semi-space-size=64
// The `pulse` command: runs the TypeScript sources through tsx's loader.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
const code = await main(process.argv.slice(2));
// -1: a long-running command (start) that exits on its own signal handling.
if (code >= 0) process.exit(code);
