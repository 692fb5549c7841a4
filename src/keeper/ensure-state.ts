/**
 * "Ensure the current state" (spec 02 §6.4, spec 05 §12.5): when the goal
 * equals the current state, keep Postgres running or stopped as the state
 * requires and keep the replication slots for the other nodes. Also the
 * write-lease fence: a primary without a valid lease never runs Postgres.
 */
import { messageOf } from '../common/errors.js';
import { isMonitorDisabled } from '../config/index.js';
import { isWritableState, type NodeState } from '../fsm/states.js';
import { killPostgresNow } from './fence.js';
import { ensurePgRunning, ensurePgStopped, maintainSlots } from './pg-ops.js';
import { currentState, notify, saveState, type KeeperRuntime } from './runtime.js';

/** Restart bookkeeping for the pg_is_running grace of a primary (spec 05 §12.3). */
export interface RestartTracker {
  downSince: number | null;
  failures: number;
}

export const restartTracker = (): RestartTracker => ({ downSince: null, failures: 0 });

/** The state a primary records when it fenced itself (spec 02 §6.3). */
export const FENCED_STATE: NodeState = 'demote_timeout';

const STOPPED_STATES: ReadonlySet<NodeState> = new Set<NodeState>(['draining', 'demote_timeout', 'demoted']);

/**
 * The write-lease fence, run by a timer and around each report: a node in
 * a writable state (or in a transition towards one) whose lease ran out
 * gets its Postgres killed at once and kept stopped until a new lease
 * comes. A node in a writable state then records `demote_timeout` (the
 * FSM's fenced primary), which it reports as soon as the monitor answers.
 * Returns true when it killed Postgres now.
 */
export function enforceLease(rt: KeeperRuntime): boolean {
  // No monitor counts on the lease of a node whose monitor is disabled
  // (docs/architecture.md, "Running without a monitor").
  if (isMonitorDisabled(rt.config)) return false;
  const current = currentState(rt);
  const goal = rt.transitionGoal;
  const leased = isWritableState(current) || (goal !== null && isWritableState(goal));
  if (!leased || rt.lease.valid()) return false;
  rt.postgres.setExpected('stopped');
  const killed = rt.local.runningPid() === null ? null : killPostgresNow(rt.config.postgresql.pgdata, rt.log);
  if (killed !== null) {
    rt.fencedAt = performance.now();
    const end = rt.lease.expiresAt();
    rt.log.error(end === null
      ? `This node is "${current}" without a write lease from the monitor: PostgreSQL has been stopped to fence it`
      : `The write lease of this node ran out ${Math.round(performance.now() - end)} ms ago without a successful node_active call: PostgreSQL has been stopped to fence it`);
    notify(rt, 'fenced', { reason: end === null ? 'no write lease' : 'write lease ran out' });
  }
  // A stopped Postgres needs no fence; the state only tells the monitor once it is unreachable.
  if (isWritableState(current) && (killed !== null || rt.monitorUnreachable)) {
    rt.log.warn(`Reaching new state "${FENCED_STATE}" (self-assigned: no write lease)`);
    saveState(rt, { currentRole: FENCED_STATE, assignedRole: FENCED_STATE }).catch((error: unknown) => {
      rt.log.error(`Failed to write the keeper state: ${messageOf(error)}`);
    });
  }
  return killed !== null;
}

/**
 * What the lease guard must enforce now: the lease end while the node is
 * in (or going to) a writable state, with no lease meaning "now"; null
 * otherwise.
 */
export function guardedLeaseEnd(rt: KeeperRuntime): number | null {
  if (isMonitorDisabled(rt.config)) return null;
  const goal = rt.transitionGoal;
  const leased = isWritableState(currentState(rt)) || (goal !== null && isWritableState(goal));
  return leased ? (rt.lease.expiresAt() ?? performance.now()) : null;
}

async function ensureRunning(rt: KeeperRuntime, tracker: RestartTracker, state: NodeState): Promise<boolean> {
  const wasReady = rt.local.isReady();
  try {
    await ensurePgRunning(rt);
    if (tracker.downSince !== null) rt.log.info(`PostgreSQL is running again in state "${state}"`);
    tracker.downSince = null;
    tracker.failures = 0;
    return true;
  } catch (error) {
    if (!wasReady) {
      tracker.downSince ??= performance.now();
      tracker.failures += 1;
    }
    rt.log.warn(`pg_autoctl failed to ensure current state "${state}": PostgreSQL is not running: ${messageOf(error)}`);
    return false;
  }
}

/**
 * Keeps Postgres as the current state wants it. Without a monitor (its
 * monitor disabled) there is no lease to hold and no up-to-date list of the
 * other nodes: Postgres is kept running or stopped, and the replication
 * slots are left as they are (a list from before could drop the slot of a
 * standby that is only away for a moment).
 */
export async function ensureCurrentState(rt: KeeperRuntime, tracker: RestartTracker): Promise<void> {
  const state = currentState(rt);
  const withMonitor = !isMonitorDisabled(rt.config);
  try {
    if (isWritableState(state)) {
      if (withMonitor && !rt.lease.valid()) return;
      if ((await ensureRunning(rt, tracker, state)) && withMonitor) await maintainSlots(rt, { advance: false });
      return;
    }
    switch (state) {
      case 'prepare_promotion':
      case 'stop_replication':
      case 'catchingup':
        await ensureRunning(rt, tracker, state);
        return;
      case 'secondary':
      case 'report_lsn':
        if ((await ensureRunning(rt, tracker, state)) && withMonitor) await maintainSlots(rt, { advance: true });
        return;
      default:
        if (STOPPED_STATES.has(state) && rt.local.runningPid() !== null) {
          rt.log.info(`PostgreSQL is running while in state "${state}", stopping PostgreSQL.`);
          await ensurePgStopped(rt);
        }
    }
  } catch (error) {
    rt.log.warn(`pg_autoctl failed to ensure current state "${state}": ${messageOf(error)}`);
  }
}

/** spec 05 §12.3: in a primary state, report Postgres running while its restart is still being retried. */
export function reportedPgRunning(rt: KeeperRuntime, tracker: RestartTracker, running: boolean): boolean {
  if (running) return true;
  const state = currentState(rt);
  if (!isWritableState(state)) return false;
  const timeout = rt.config.timeout;
  const since = tracker.downSince ?? performance.now();
  tracker.downSince ??= since;
  const within = performance.now() - since < timeout.postgresql_restart_failure_timeout * 1000
    && tracker.failures < timeout.postgresql_restart_failure_max_retries;
  return within;
}
