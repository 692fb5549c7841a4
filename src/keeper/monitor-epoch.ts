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
 *
 * The node is also a witness (issue 13 phase 4): a second line
 * `decision epoch=<e> id=<d> goal=<state> candidate_priority=<p> replication_quorum=<bool>`
 * keeps the last decision received from a monitor that names its
 * decisions (migration 0014), written only when it changes. It is sent
 * back with node_active, so that a monitor that lost that decision adopts
 * it (src/fsm/witness.ts), and it is what the node registers again with
 * into a monitor rebuilt from its nodes (ha/rebuild.ts). Lines this
 * version does not know are ignored; a one-line file is read as before.
 */
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file.js';
import { AutoctlError, messageOf } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { isNodeState, type NodeState } from '../fsm/states.js';

export const EPOCH_FILE_NAME = 'pg_autoctl.epoch';
export const EPOCH_FILE_MODE = 0o600;
/** A refusal of the same stale monitor is logged at most once per this period. */
export const STALE_LOG_PERIOD_MS = 10_000;

/** The epoch file of a node, beside its state file. */
export function epochFileOf(statePath: string): string {
  return join(dirname(statePath), EPOCH_FILE_NAME);
}

/** The last decision this node received: its goal, and the decision's epoch and id (all > 0). */
export interface KeeperWitness {
  readonly epoch: number;
  readonly decisionId: number;
  readonly goal: NodeState;
  /** The node's settings in the same answer, for a registration into a rebuilt monitor. */
  readonly candidatePriority: number;
  readonly replicationQuorum: boolean;
}

export interface EpochFile {
  epoch: number;
  witness: KeeperWitness | null;
}

/** The stored epoch; 0 when there is no file. A damaged file is an error (never silently 0). */
export function readEpochFile(path: string): number {
  return readEpochFileFull(path).epoch;
}

/** The stored epoch and witness; 0 and null when there is no file. */
export function readEpochFileFull(path: string): EpochFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return { epoch: 0, witness: null };
    throw new AutoctlError('BAD_STATE', `Failed to read the monitor epoch file "${path}": ${messageOf(error)}`);
  }
  return parseEpochFile(text, path);
}

export function parseEpochFile(text: string, path: string): EpochFile {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const match = /^epoch (\d{1,15})$/.exec(lines[0] ?? '');
  if (!match?.[1]) throw new AutoctlError('BAD_STATE', `Failed to parse the monitor epoch file "${path}": expected "epoch <number>"`);
  let witness: KeeperWitness | null = null;
  for (const line of lines.slice(1)) {
    if (!line.startsWith('decision ')) continue;
    witness = parseWitness(line.slice('decision '.length));
    if (witness === null) {
      throw new AutoctlError('BAD_STATE', `Failed to parse the monitor epoch file "${path}": expected `
        + '"decision epoch=<number> id=<number> goal=<state> candidate_priority=<0..100> replication_quorum=<true|false>"');
    }
  }
  return { epoch: Number(match[1]), witness };
}

function parseWitness(text: string): KeeperWitness | null {
  const fields = new Map<string, string>();
  for (const part of text.trim().split(/ +/)) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const count = (key: string, max: number): number | null => {
    const v = fields.get(key);
    return v !== undefined && /^\d{1,15}$/.test(v) && Number(v) <= max ? Number(v) : null;
  };
  const epoch = count('epoch', Number.MAX_SAFE_INTEGER);
  const decisionId = count('id', Number.MAX_SAFE_INTEGER);
  const goal = fields.get('goal');
  const priority = count('candidate_priority', 100);
  const quorum = fields.get('replication_quorum');
  if (epoch === null || decisionId === null || decisionId === 0 || goal === undefined || !isNodeState(goal)
    || priority === null || (quorum !== 'true' && quorum !== 'false')) return null;
  return { epoch, decisionId, goal, candidatePriority: priority, replicationQuorum: quorum === 'true' };
}

export function formatEpochFile(epoch: number, witness: KeeperWitness | null = null): string {
  return `epoch ${epoch}\n${witness === null ? '' : `decision epoch=${witness.epoch} id=${witness.decisionId} goal=${witness.goal} `
    + `candidate_priority=${witness.candidatePriority} replication_quorum=${witness.replicationQuorum}\n`}`;
}

export function writeEpochFile(path: string, epoch: number, witness: KeeperWitness | null = null): void {
  writeFileAtomic(path, formatEpochFile(epoch, witness), { mode: EPOCH_FILE_MODE });
}

export function sameWitness(a: KeeperWitness | null, b: KeeperWitness | null): boolean {
  return a === b || (a !== null && b !== null && a.epoch === b.epoch && a.decisionId === b.decisionId && a.goal === b.goal
    && a.candidatePriority === b.candidatePriority && a.replicationQuorum === b.replicationQuorum);
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
  private lastWitness: KeeperWitness | null;
  private lastStaleLog = Number.NEGATIVE_INFINITY;
  /** Whether the monitor of the current connection has epochs (migration 0010); node_active then returns its epoch. */
  monitorHasEpochs = false;
  /** Whether the monitor of the current connection takes witnesses and names its decisions (migration 0014). */
  monitorHasWitnesses = false;

  constructor(private readonly file: string, private readonly log: Pick<Logger, 'info' | 'warn'>,
    private readonly clock: () => number = () => performance.now()) {
    const stored = readEpochFileFull(file);
    this.highest = stored.epoch;
    this.lastWitness = stored.witness;
  }

  get highestSeen(): number {
    return this.highest;
  }

  /** The last decision received, kept in the file; null before the first one. */
  get witness(): KeeperWitness | null {
    return this.lastWitness;
  }

  /** Keeps the decision of a node_active answer; the file is written only when it changed. */
  recordWitness(witness: KeeperWitness): void {
    if (witness.decisionId <= 0 || sameWitness(witness, this.lastWitness)) return;
    writeEpochFile(this.file, this.highest, witness);
    this.lastWitness = witness;
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
      writeEpochFile(this.file, monitorEpoch, this.lastWitness);
      if (this.highest > 0) this.log.info(`The monitor at ${where} is at epoch ${monitorEpoch} (was ${this.highest})`);
      this.highest = monitorEpoch;
    }
  }

  /** `enable monitor` attached the node to another monitor: forget the old one's epochs. */
  reset(): void {
    const stored = readEpochFileFull(this.file);
    this.highest = stored.epoch;
    this.lastWitness = stored.witness;
  }
}
