/**
 * The monitor service on a standby monitor (docs/architecture.md "Monitor
 * high availability", design point 3): its database is a streaming copy of
 * the primary monitor's, so the service applies no migration, claims no
 * leadership, runs no brain and no health check. It keeps Postgres running
 * (the supervisor does), tells the operator what it is waiting for, and
 * returns as soon as recovery ends (a promotion): the service then starts
 * its normal session, whose advance_monitor_epoch starts a new epoch.
 */
import type pg from 'pg';
import type { Logger } from '../../common/log.js';
import { sleep } from '../../common/service.js';
import { formatLsn, isInRecovery, scrubPasswords, walReceiverStatus } from '../../postgres/index.js';

export const STANDBY_POLL_MS = 1000;
/** How often the replication position is logged while nothing else changes. */
const PROGRESS_LOG_MS = 60_000;

export interface StandbyModeDeps {
  client: pg.Client;
  log: Pick<Logger, 'info' | 'warn'>;
  signal: AbortSignal;
  /** `ha.peers`: where this standby was created from (for the messages). */
  peers: readonly string[];
  pollMs?: number;
}

/** True when the database is in recovery (the service must then run standby mode). */
export function inStandbyMode(client: pg.Client): Promise<boolean> {
  return isInRecovery(client);
}

/**
 * Waits while the local monitor database is in recovery. Returns 'promoted'
 * when it became writable, 'aborted' when the service stops first.
 */
export async function runStandbyMode(deps: StandbyModeDeps): Promise<'promoted' | 'aborted'> {
  const { client, log, signal } = deps;
  const of = deps.peers.length > 0 ? deps.peers.map(scrubPasswords).join(' ') : 'another monitor';
  log.info(`This monitor is a standby of ${of}; waiting: it makes no decision and runs no health check until it is promoted`);
  let last = '';
  let lastLog = performance.now();
  while (!signal.aborted) {
    if (!(await isInRecovery(client))) {
      log.info('This monitor\'s database is not in recovery any more (promoted): the monitor service starts');
      return 'promoted';
    }
    const receiver = await walReceiverStatus(client);
    const upstream = receiver?.senderHost === undefined ? undefined : `${receiver.senderHost}:${receiver.senderPort ?? ''}`;
    const now = receiver === undefined ? 'none' : `${receiver.status} ${upstream ?? ''}`;
    if (now !== last) {
      if (receiver?.status === 'streaming') {
        log.info(`Streaming from the primary monitor at ${upstream ?? 'unknown'} (slot ${receiver.slotName ?? 'none'}, timeline ${receiver.receivedTimeline})`);
      } else {
        log.warn(`Not streaming from the primary monitor (WAL receiver: ${receiver?.status ?? 'not running'}); waiting`);
      }
      last = now;
      lastLog = performance.now();
    } else if (receiver !== undefined && performance.now() - lastLog >= PROGRESS_LOG_MS) {
      log.info(`Standby monitor: received up to ${formatLsn(receiver.flushedLsn)} from ${upstream ?? 'unknown'}`);
      lastLog = performance.now();
    }
    await sleep(deps.pollMs ?? STANDBY_POLL_MS, signal);
  }
  return 'aborted';
}
