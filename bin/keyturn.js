#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx: no build step between clone and start.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../src/cli/main.ts');
await run(process.argv.slice(2));
