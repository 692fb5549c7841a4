/**
 * The Postgres controller's port onto the local instance: spawn the
 * postmaster as a child (stdout/stderr to $PGDATA/startup.log), wait for it,
 * stop it by pid.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '../common/service.js';
import type { PgBinaries } from '../postgres/binaries.js';
import {
  isProcessAlive, readPostmasterPid, spawnPostmaster, stopPostgres, waitForPostgresReady,
} from '../postgres/index.js';
import type { PostgresPort } from './postgres-controller.js';

export interface LocalPostgresOptions {
  bin: Pick<PgBinaries, 'binDir'>;
  pgdata: string;
  port: number;
  listenAddresses: string;
  env?: NodeJS.ProcessEnv;
}

export function localPostgresPort(options: LocalPostgresOptions): PostgresPort {
  const logFile = join(options.pgdata, 'startup.log');
  return {
    async runningPid() {
      const info = readPostmasterPid(options.pgdata);
      return info && info.pid > 0 && isProcessAlive(info.pid) ? info.pid : null;
    },
    spawn() {
      const handle = spawnPostmaster(options.bin, options.pgdata, {
        port: options.port,
        listenAddresses: options.listenAddresses,
        logFile,
        ...(options.env ? { env: options.env } : {}),
      });
      return handle.child;
    },
    async waitReady(pid, timeoutMs) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const info = readPostmasterPid(options.pgdata);
        if (!isProcessAlive(pid)) throw new Error(`postgres (pid ${pid}) exited during start-up`);
        if (info?.pid === pid && (info.status === 'ready' || info.status === 'standby')) return;
        if (performance.now() > deadline) {
          await waitForPostgresReady(options.pgdata, { timeoutMs: 1 });
          return;
        }
        await sleep(50);
      }
    },
    async stop(_pid, mode, timeoutMs) {
      await stopPostgres(options.pgdata, mode, timeoutMs);
    },
    startupLogTail() {
      try {
        return readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
      } catch {
        return '';
      }
    },
  };
}
