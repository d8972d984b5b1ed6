#!/usr/bin/env node
// `npx webray serve`: webray's command line (signaling/cli.ts). The server is TypeScript, run
// through tsx (a dependency of the package), as `npm start` runs it.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../signaling/cli.ts');
process.exitCode = await runCli(process.argv.slice(2));
