#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx): no build step between a checkout and a working `fido`.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
