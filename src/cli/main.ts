#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --optimize-for-size --max-semi-space-size=1 --no-turbofan --no-sparkplug
// The flags keep a long-running pg_autoctl small (docs/timings.md, "Memory"):
// V8 favours size over speed, the young generation stays at 1 MB, glibc
// keeps at most two malloc arenas for Node's threads, and JavaScript runs
// in V8's interpreter only (no machine code: its compilers' pages and code
// space stay untouched; a keeper is idle most of the time). The line must
// stay under 128 bytes (older kernels cut longer interpreter lines).
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv);
