#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --optimize-for-size --max-semi-space-size=1
// The flags keep a long-running pg_autoctl small (docs/timings.md, "Memory"):
// V8 favours size over speed, the young generation stays at 1 MB, and
// glibc keeps at most two malloc arenas for Node's threads.
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv);
