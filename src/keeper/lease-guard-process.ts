/**
 * The lease guard: a tiny process of its own that kills the local Postgres
 * when the write lease it was last told about runs out. It exists for the
 * cases the keeper cannot handle itself: a keeper whose event loop is
 * stuck, or that is stopped (SIGSTOP) or killed while Postgres keeps
 * serving. The keeper sends it, on stdin, one line per change:
 *   `lease <end>`  the lease ends at <end> (process.hrtime nanoseconds,
 *                  the system-wide monotonic clock)
 *   `none`         no lease is needed now (standby, stopped, ...)
 *   `release`      exit now (the keeper stops cleanly)
 * When stdin closes (the keeper died), the guard enforces the last lease
 * it knew, then exits. SIGTERM makes it exit without killing anything (a
 * new keeper took over with a guard of its own).
 *
 * Entry point: `node lease-guard-process.js <pgdata>`.
 */
import { createInterface } from 'node:readline';
import { silentLogger } from '../common/log.js';
import { killPostgresNow } from './fence.js';

const pgdata = process.argv[2];
if (pgdata === undefined || pgdata === '') process.exit(2);

let deadline: bigint | null = null;
let keeperAlive = true;

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  const [command, argument] = line.trim().split(/\s+/);
  if (command === 'lease' && argument !== undefined && /^\d+$/.test(argument)) deadline = BigInt(argument);
  else if (command === 'none') deadline = null;
  else if (command === 'release') process.exit(0);
});
input.on('close', () => {
  keeperAlive = false;
  if (deadline === null) process.exit(0);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => undefined);
process.on('SIGHUP', () => undefined);

setInterval(() => {
  if (deadline === null || process.hrtime.bigint() < deadline) return;
  killPostgresNow(pgdata, silentLogger());
  deadline = null;
  if (!keeperAlive) process.exit(0);
}, 20);
