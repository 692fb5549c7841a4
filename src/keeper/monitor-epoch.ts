/**
 * The keeper's side of monitor epochs (docs/architecture.md "Monitor high
 * availability"): the highest epoch this node has seen from a monitor is
 * kept in `pg_autoctl.epoch`, a 0600 file beside the state file (the
 * 2.0-compatible state file keeps its layout), and a monitor with a lower
 * epoch is never obeyed: its connection is refused as soon as it is
 * opened, and an answer of node_active that carries a lower epoch is
 * dropped before it may renew the write lease. To the rest of the keeper
 * such a monitor looks unreachable.
 *
 * File: one line `epoch <n>`, written atomically. A missing file means 0
 * (no epoch seen yet). `enable monitor`, which attaches the node to another
 * monitor on purpose, removes it.
 */
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.js';
import { AutoctlError, messageOf } from '../common/errors.js';
import type { Logger } from '../common/log.js';

export const EPOCH_FILE_NAME = 'pg_autoctl.epoch';
export const EPOCH_FILE_MODE = 0o600;
/** A refusal of the same stale monitor is logged at most once per this period. */
export const STALE_LOG_PERIOD_MS = 10_000;

/** The epoch file of a node, beside its state file. */
export function epochFileOf(statePath: string): string {
  return join(dirname(statePath), EPOCH_FILE_NAME);
}

/** The stored epoch; 0 when there is no file. A damaged file is an error (never silently 0). */
export function readEpochFile(path: string): number {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return 0;
    throw new AutoctlError('BAD_STATE', `Failed to read the monitor epoch file "${path}": ${messageOf(error)}`);
  }
  const match = /^epoch (\d{1,15})\n?$/.exec(text);
  if (!match?.[1]) throw new AutoctlError('BAD_STATE', `Failed to parse the monitor epoch file "${path}": expected "epoch <number>"`);
  return Number(match[1]);
}

export function writeEpochFile(path: string, epoch: number): void {
  writeFileAtomic(path, `epoch ${epoch}\n`, { mode: EPOCH_FILE_MODE });
}

export function removeEpochFile(statePath: string): void {
  rmSync(epochFileOf(statePath), { force: true });
}

/** How a monitor's epoch compares with the highest one this node has seen. */
export type EpochVerdict = 'same' | 'newer' | 'stale';

export function epochVerdict(highestSeen: number, monitorEpoch: number): EpochVerdict {
  if (monitorEpoch < highestSeen) return 'stale';
  return monitorEpoch > highestSeen ? 'newer' : 'same';
}

/** A monitor whose epoch is lower than one this node has seen: not to be obeyed. */
export class StaleMonitorError extends AutoctlError {
  constructor(readonly monitorEpoch: number, readonly highestSeen: number) {
    super('MONITOR', `the monitor is at epoch ${monitorEpoch}, lower than epoch ${highestSeen} this node has seen: `
      + 'it is a stale monitor, this node does not obey it');
  }
}

/**
 * The highest epoch seen, in memory and in the file. `admit` is called
 * with each epoch a monitor shows: a newer one is stored, a lower one is
 * logged (once per {@link STALE_LOG_PERIOD_MS}) and thrown as a
 * StaleMonitorError.
 */
export class EpochGuard {
  private highest: number;
  private lastStaleLog = Number.NEGATIVE_INFINITY;
  /** Whether the monitor of the current connection has epochs (migration 0010); node_active then returns its epoch. */
  monitorHasEpochs = false;

  constructor(private readonly file: string, private readonly log: Pick<Logger, 'info' | 'warn'>,
    private readonly clock: () => number = () => performance.now()) {
    this.highest = readEpochFile(file);
  }

  get highestSeen(): number {
    return this.highest;
  }

  admit(monitorEpoch: number, where: string): void {
    const verdict = epochVerdict(this.highest, monitorEpoch);
    if (verdict === 'stale') {
      const now = this.clock();
      if (now - this.lastStaleLog >= STALE_LOG_PERIOD_MS) {
        this.lastStaleLog = now;
        this.log.warn(`Refusing the monitor at ${where}: its epoch ${monitorEpoch} is lower than epoch ${this.highest} this node has seen; `
          + 'skipping its assignments (a stale monitor, e.g. an old primary monitor or a restored copy)');
      }
      throw new StaleMonitorError(monitorEpoch, this.highest);
    }
    if (verdict === 'newer') {
      writeEpochFile(this.file, monitorEpoch);
      if (this.highest > 0) this.log.info(`The monitor at ${where} is at epoch ${monitorEpoch} (was ${this.highest})`);
      this.highest = monitorEpoch;
    }
  }

  /** `enable monitor` attached the node to another monitor: forget the old one's epochs. */
  reset(): void {
    this.highest = readEpochFile(this.file);
  }
}
