/**
 * The keeper main loop (spec 02 §6.1, spec 05 §12.2): each round gathers
 * the local facts, reports them with node_active, and runs the transition
 * (current → goal) when the monitor assigned a new goal, or enforces the
 * current state. A round starts at once after a transition or a `state`
 * notification for the group, else after at most one second.
 */
import { AutoctlError, messageOf } from '../common/errors.js';
import { FatalServiceError, NodeDroppedError, sleep } from '../common/service.js';
import { readInitFileIfExists, readKeeperState, removeInitFile, isMonitorDisabled } from '../config/index.js';
import { isWritableState, isNodeState, type NodeState } from '../fsm/states.js';
import { getOtherNodes, nodeActiveWithPeers, recordFailsafeEvent, setNodeHttpPort } from '../monitor-api/index.js';
import type { NodeAssignment } from '../monitor-api/index.js';
import { sqlStateOf } from '../monitor-api/index.js';
import { classifyPgData } from '../postgres/index.js';
import { enforceLease, ensureCurrentState, reportedPgRunning, type RestartTracker } from './ensure-state.js';
import { endOutage, noteMaterial, promiseHoldMs, publishHttpPort } from './failsafe.js';
import { syncReplicationHba } from './hba-sync.js';
import { storeLeaseEnd } from './lease-file.js';
import { monitorMembersOf, refreshMonitorMembers } from './monitor-members.js';
import { gatherFacts, type PgReport } from './local-pg.js';
import { StaleMonitorError } from './monitor-epoch.js';
import { readOtherNodesFromFile } from './nodes-file.js';
import { registerIntoRebuiltMonitor } from './rebuild-register.js';
import { currentState, notify, onMonitor, saveState, type KeeperRuntime } from './runtime.js';
import { planTransition, runAction } from './transitions.js';

export interface LoopOptions {
  /** `create` without --run: return once the node reached its first stable state and reported it. */
  untilInitDone: boolean;
  /** Where the lease end is kept across restarts of pg_autoctl. */
  leaseFile: string;
}

interface LoopMemory {
  tracker: RestartTracker;
  monitorFailing: boolean;
  lastFailureLog: number;
  unknownPairs: Set<string>;
  waitingRounds: number;
  droppedRounds: number;
  /** Consecutive failures of the same transition (or of the monitor calls), for `create` to give up. */
  failing: { key: string; count: number; since: number; last: string } | null;
}

/** `create` (without --run) gives up after this many failures spanning at least INIT_GIVE_UP_MS. */
const INIT_GIVE_UP_COUNT = 5;
const INIT_GIVE_UP_MS = 120_000;

interface RoundOutcome {
  transitioned: boolean;
  initDone: boolean;
  /** node_active failed: the next round comes after the link's back-off, not a full interval. */
  monitorFailed?: boolean;
}

/**
 * The wait before the next round: a second; after a report that lost its
 * monitor connection, the link's back-off (100 ms doubling up to 800 ms),
 * so that a keeper finds a new monitor soon after it accepts writes
 * (issue 13). A monitor that answered with an error keeps the second.
 */
export function nextRoundWaitMs(monitorFailed: boolean, connected: boolean, retryInMs: number): number {
  // A timer may fire a little early: 10 ms more, so the attempt is never refused as too soon.
  return monitorFailed && !connected ? Math.min(1000, Math.max(50, retryInMs + 10)) : 1000;
}

/** States a node reaches at the end of `create` (the init file is removed once one is reported). */
const INIT_STATES: ReadonlySet<NodeState> = new Set<NodeState>(['init', 'wait_standby', 'unknown']);

/** Goals that never call for a transition: the monitor service has not decided yet. */
const NOT_A_GOAL: ReadonlySet<NodeState> = new Set<NodeState>(['init', 'unknown']);

/** Transitions before which "ensure the current state" is skipped (spec 02 §6.1 step 5). */
function skipEnsureBefore(current: NodeState, goal: NodeState): boolean {
  const stopped = new Set<NodeState>(['draining', 'demote_timeout', 'demoted']);
  return stopped.has(current) || stopped.has(goal) || current === 'secondary' || current === 'init' || current === 'wait_standby';
}

export async function runKeeperLoop(rt: KeeperRuntime, options: LoopOptions, tracker: RestartTracker): Promise<void> {
  const memory: LoopMemory = {
    tracker, monitorFailing: false, lastFailureLog: 0, unknownPairs: new Set(), waitingRounds: 0, droppedRounds: 0, failing: null,
  };
  let skipSleep = true;
  let monitorFailed = false;
  while (!rt.signal.aborted) {
    if (!skipSleep) await rt.monitor.waitForWake(nextRoundWaitMs(monitorFailed, rt.monitor.connected, rt.monitor.retryInMs()), rt.signal);
    else rt.monitor.clearWake();
    if (rt.signal.aborted) break;
    const outcome = await round(rt, memory, options);
    if (options.untilInitDone && outcome.initDone) return;
    if (options.untilInitDone) giveUpWhenStuck(memory);
    skipSleep = outcome.transitioned;
    monitorFailed = outcome.monitorFailed === true;
  }
}

/** What one round did, for `pg_autoctl do fsm step`. */
export interface KeeperStepOutcome {
  /** The transition to the assigned goal ran and completed. */
  transitioned: boolean;
  /** node_active got an answer (never with a disabled monitor). */
  reported: boolean;
  /** What failed in the round (the monitor call, the transition), null when nothing did. */
  failure: string | null;
}

/**
 * One round of the loop on its own: `pg_autoctl do fsm step` on a node
 * whose service is not running (the caller makes sure of that).
 */
export async function runKeeperStep(rt: KeeperRuntime, options: LoopOptions, tracker: RestartTracker): Promise<KeeperStepOutcome> {
  const memory: LoopMemory = {
    tracker, monitorFailing: false, lastFailureLog: 0, unknownPairs: new Set(), waitingRounds: 0, droppedRounds: 0, failing: null,
  };
  let reported = false;
  const onNodeActive = (event: { ok: boolean }): void => { if (event.ok) reported = true; };
  rt.events.on('node-active', onNodeActive);
  try {
    const outcome = await round(rt, memory, options);
    return { transitioned: outcome.transitioned, reported, failure: memory.failing?.last ?? null };
  } finally {
    rt.events.off('node-active', onNodeActive);
  }
}

async function round(rt: KeeperRuntime, memory: LoopMemory, options: LoopOptions): Promise<RoundOutcome> {
  const outcome: RoundOutcome = { transitioned: false, initDone: false };
  // Without a monitor, the state file is how goals arrive (pg_autoctl do fsm assign).
  if (isMonitorDisabled(rt.config)) rt.state = await readKeeperState(rt.paths.state);
  // ... and the nodes file, how the other nodes do (pg_autoctl do fsm nodes set).
  if (isMonitorDisabled(rt.config)) await readOtherNodesFromFile(rt);
  const current = currentState(rt);
  const facts = await gatherFacts(rt.local, rt.log);
  rt.lastFacts = facts;
  if (!(await checkIdentity(rt, facts))) return outcome;

  let goal: NodeState;
  if (isMonitorDisabled(rt.config)) {
    goal = isNodeState(rt.state.assignedRole) ? rt.state.assignedRole : current;
  } else {
    enforceLease(rt);
    // The monitor members this node learned are tried too (from the file at start).
    monitorMembersOf(rt);
    let assignment: NodeAssignment;
    try {
      assignment = await report(rt, current, facts, memory.tracker);
    } catch (error) {
      await onReportFailure(rt, memory, current, error);
      noteFailure(memory, 'monitor', error);
      outcome.monitorFailed = true;
      return outcome;
    }
    // Disabled while the call was on its way (`disable monitor --force`
    // removes the node from the monitor after the reload): not our goal.
    if (isMonitorDisabled(rt.config)) return outcome;
    if (memory.failing?.key === 'monitor') memory.failing = null;
    const wasFailing = memory.monitorFailing;
    if (wasFailing) rt.log.info('Successfully got the goal state from the monitor');
    memory.monitorFailing = false;
    rt.monitorUnreachable = false;
    goal = assignment.goalState;
    await saveState(rt, {
      assignedRole: goal,
      currentNodeId: assignment.nodeId,
      currentGroup: assignment.groupId,
      lastMonitorContact: Math.floor(Date.now() / 1000),
    });
    if (isWritableState(current) || isWritableState(goal)) storeLeaseEnd(options.leaseFile, rt.lease.expiresAt());
    rt.monitor.ensureListening();
    // A monitor back from an outage may be a restored one: publish again.
    if (wasFailing) rt.failsafe.publishedHttpPort = undefined;
    await refreshOtherNodes(rt);
    await refreshMonitorMembers(rt);
    await publishHttpPort(rt, (port) => onMonitor(rt, 'set_node_http_port', (c) => setNodeHttpPort(c, rt.state.currentNodeId, port)));
    if (wasFailing || rt.failsafe.outage !== null) {
      await endOutage(rt, (line) => onMonitor(rt, 'record_failsafe_event', (c) => recordFailsafeEvent(c, rt.state.currentNodeId, line)));
    }

    if (!INIT_STATES.has(current) && (await readInitFileIfExists(rt.paths.init)) !== undefined) {
      await removeInitFile(rt.paths.init);
      rt.log.info(`Reached state "${current}" and reported it to the monitor: keeper has been successfully initialized.`);
      outcome.initDone = true;
    }
    if (current === 'dropped' && goal === 'dropped') {
      memory.droppedRounds += 1;
      if (memory.droppedRounds >= 2) throw new NodeDroppedError('This node has been dropped from the monitor, stopping now');
    }
  }

  if (goal === current || NOT_A_GOAL.has(goal)) {
    if (current === 'wait_standby' || current === 'init') noteWaiting(rt, memory, current);
    await ensureCurrentState(rt, memory.tracker);
  } else {
    memory.waitingRounds = 0;
    outcome.transitioned = await transition(rt, memory, current, goal);
  }
  // Without a monitor the state file is written by others (`do fsm assign`,
  // `enable monitor`): writing back what this round read could undo them.
  if (!isMonitorDisabled(rt.config)) await saveState(rt);
  return outcome;
}

function noteFailure(memory: LoopMemory, key: string, error: unknown): void {
  if (memory.failing?.key === key) {
    memory.failing.count += 1;
    memory.failing.last = messageOf(error);
  } else {
    memory.failing = { key, count: 1, since: performance.now(), last: messageOf(error) };
  }
}

/** `create` without --run ends with an error when the same step keeps failing (spec 04 §3.2: exit 3). */
function giveUpWhenStuck(memory: LoopMemory): void {
  const f = memory.failing;
  if (f === null) return;
  const monitor = f.key === 'monitor';
  if (monitor ? f.count > INIT_GIVE_UP_COUNT : f.count >= INIT_GIVE_UP_COUNT && performance.now() - f.since >= INIT_GIVE_UP_MS) {
    throw new AutoctlError('BAD_STATE', monitor
      ? `Failed to contact the monitor ${f.count} times in a row now, so we stop trying: ${f.last}`
      : `Failed to initialise this node: ${f.key} failed ${f.count} times in ${Math.round((performance.now() - f.since) / 1000)} s: ${f.last}`,
    { hint: 'fix the cause, then run the same pg_autoctl create postgres command again: it continues where it stopped' });
  }
}

/** A changed system identifier means PGDATA is not the cluster this node registered (spec 02 §6.3 rule 6). */
async function checkIdentity(rt: KeeperRuntime, facts: PgReport): Promise<boolean> {
  if (facts.systemIdentifier === undefined) return true;
  if (rt.state.systemIdentifier === 0n) {
    await saveState(rt, {
      systemIdentifier: facts.systemIdentifier,
      pgControlVersion: facts.pgControlVersion ?? 0,
      catalogVersionNo: facts.catalogVersion ?? 0,
    });
    return true;
  }
  if (rt.state.systemIdentifier === facts.systemIdentifier) return true;
  rt.log.error(`The system identifier of PostgreSQL in "${rt.config.postgresql.pgdata}" is ${facts.systemIdentifier}, `
    + `but this node was registered with system identifier ${rt.state.systemIdentifier}`);
  return false;
}

/** node_active; a writable goal renews the write lease from the call's send time. */
async function report(rt: KeeperRuntime, current: NodeState, facts: PgReport, tracker: RestartTracker): Promise<NodeAssignment> {
  const sentAt = performance.now();
  let answer: Awaited<ReturnType<typeof nodeActiveWithPeers>>;
  let where = 'the monitor';
  try {
    answer = await onMonitor(rt, 'node_active', (c) => {
      where = `${c.host.includes(':') ? `[${c.host}]` : c.host}:${c.port}`;
      return nodeActiveWithPeers(c, {
        formation: rt.config.pg_autoctl.formation,
        nodeId: rt.state.currentNodeId,
        groupId: rt.state.currentGroup,
        state: current,
        pgIsRunning: reportedPgRunning(rt, tracker, facts.running),
        tli: facts.timeline,
        lsn: facts.lsn,
        syncState: facts.syncState,
        knownGoal: isNodeState(rt.state.assignedRole) ? rt.state.assignedRole : 'unknown',
        witness: rt.epoch?.witness ?? undefined,
      }, { withEpoch: rt.epoch?.monitorHasEpochs ?? false, withWitness: rt.epoch?.monitorHasWitnesses ?? false });
    });
  } catch (error) {
    notify(rt, 'node-active', { ms: performance.now() - sentAt, ok: false });
    throw error;
  }
  // A monitor behind the highest epoch seen is not obeyed: neither its
  // goal nor its lease counts (it looks unreachable), and its connection
  // is dropped so that the next one is checked again (and, with several
  // monitor hosts, another one may be picked).
  try {
    if (answer.monitorEpoch !== undefined) rt.epoch?.admit(answer.monitorEpoch, where);
  } catch (error) {
    rt.monitor.reset();
    notify(rt, 'node-active', { ms: performance.now() - sentAt, ok: false });
    throw error;
  }
  const assignment = answer.assignment;
  // The node is a witness of the decisions it receives (monitor-epoch.ts).
  if (answer.decision !== undefined && answer.decision.id > 0) {
    rt.epoch?.recordWitness({
      epoch: answer.decision.epoch, decisionId: answer.decision.id, goal: assignment.goalState,
      candidatePriority: assignment.candidatePriority, replicationQuorum: assignment.replicationQuorum,
    });
  }
  notify(rt, 'node-active', { ms: performance.now() - sentAt, ok: true, goal: assignment.goalState });
  if (isWritableState(assignment.goalState)) rt.lease.grant(sentAt);
  noteMaterial(rt, answer);
  // An answer that arrives after the lease it grants has ended renews nothing.
  enforceLease(rt);
  return assignment;
}

async function onReportFailure(rt: KeeperRuntime, memory: LoopMemory, current: NodeState, error: unknown): Promise<void> {
  if (current === 'dropped' && sqlStateOf(error) === '42704') {
    throw new NodeDroppedError('This node has been dropped from the monitor, stopping now');
  }
  // A monitor rebuilt from its nodes does not know us yet, or shows a
  // lower epoch than we have seen: register again, when it is rebuilding.
  if (sqlStateOf(error) === '42704' && (await registerIntoRebuiltMonitor(rt))) return;
  if (error instanceof StaleMonitorError && (await registerIntoRebuiltMonitor(rt, { stale: true }))) return;
  // The monitor has no row for this node although it never reached
  // `dropped`: it was removed with `drop node --force` from elsewhere. Stop,
  // as a restart would at start-up (spec 05 §12.1).
  if (sqlStateOf(error) === '42704') {
    rt.log.info(`To get rid of the configuration file and PGDATA directory, run pg_autoctl drop node --pgdata "${rt.config.postgresql.pgdata}" --destroy`);
    throw new FatalServiceError(droppedMessage(rt), error);
  }
  const now = performance.now();
  if (!memory.monitorFailing || now - memory.lastFailureLog > 10_000) {
    rt.log.error(`Failed to get the goal state from the monitor: ${messageOf(error)}`);
    memory.lastFailureLog = now;
  }
  memory.monitorFailing = true;
  rt.monitorUnreachable = true;
  enforceLease(rt);
  if (isWritableState(current) && rt.lease.valid()) {
    rt.log.debug(`The write lease of this node ends in ${Math.round(rt.lease.remainingMs())} ms unless the monitor answers`);
  }
  await saveState(rt);
}

/** get_other_nodes, then the HBA rules for them (when PGDATA holds a cluster). */
async function refreshOtherNodes(rt: KeeperRuntime): Promise<void> {
  try {
    rt.otherNodes = await onMonitor(rt, 'get_other_nodes', (c) => getOtherNodes(c, rt.state.currentNodeId));
  } catch (error) {
    rt.log.warn(`Failed to get the other nodes from the monitor: ${messageOf(error)}`);
    return;
  }
  if (classifyPgData(rt.config.postgresql.pgdata) === 'postgres') await syncReplicationHba(rt);
}

function noteWaiting(rt: KeeperRuntime, memory: LoopMemory, current: NodeState): void {
  memory.waitingRounds += 1;
  if (current === 'wait_standby' && memory.waitingRounds % 30 === 3) {
    rt.log.info('Still waiting for the monitor to drive us to state "catchingup"');
    rt.log.warn('Please make sure that the primary node is currently running `pg_autoctl run` and contacting the monitor.');
  }
}

/** Runs one transition; the monitor keeps hearing from us (and renewing the lease) while it runs. */
async function transition(rt: KeeperRuntime, memory: LoopMemory, current: NodeState, goal: NodeState): Promise<boolean> {
  const plan = planTransition(current, goal);
  if (plan === undefined) {
    const key = `${current}->${goal}`;
    if (!memory.unknownPairs.has(key)) {
      rt.log.warn(`pg_autoctl does not know how to reach state "${goal}" from "${current}"`);
      memory.unknownPairs.add(key);
    }
    return false;
  }
  const holdMs = promiseHoldMs(rt, goal);
  if (holdMs > 0) {
    const key = `promise:${goal}`;
    if (!memory.unknownPairs.has(key)) {
      rt.log.warn(`Monitor assigned new state "${goal}": holding it for ${Math.ceil(holdMs)} ms, until the vouch this node gave for the old primary's write lease has run out`);
      memory.unknownPairs.add(key);
    }
    return false;
  }
  memory.unknownPairs.delete(`promise:${goal}`);
  rt.log.info(`Monitor assigned new state "${goal}"`);
  if (!skipEnsureBefore(current, goal)) await ensureCurrentState(rt, memory.tracker);
  rt.log.info(`FSM transition from "${current}" to "${goal}": ${plan.comment}`);
  rt.transitionGoal = goal;
  const startedAt = performance.now();
  notify(rt, 'transition-start', { from: current, to: goal });
  try {
    await withHeartbeat(rt, current, memory.tracker, () => runAction(rt, plan.action, goal));
  } catch (error) {
    notify(rt, 'transition-end', { from: current, to: goal, ms: performance.now() - startedAt, ok: false, error: messageOf(error) });
    rt.log.error(`Failed to transition to state "${goal}", retrying... ${messageOf(error)}`);
    if (error instanceof AutoctlError && error.hint) rt.log.info(`HINT: ${error.hint}`);
    noteFailure(memory, `the transition from "${current}" to "${goal}"`, error);
    return false;
  } finally {
    rt.transitionGoal = null;
  }
  memory.failing = null;
  await saveState(rt, { currentRole: goal, assignedRole: goal });
  rt.log.info(`Transition complete: current state is now "${goal}"`);
  notify(rt, 'transition-end', { from: current, to: goal, ms: performance.now() - startedAt, ok: true });
  return true;
}

/**
 * While `fn` runs, reports the (unchanged) current state every second, so
 * that a long transition neither looks like a dead node to the monitor nor
 * lets the write lease run out.
 */
async function withHeartbeat<T>(rt: KeeperRuntime, current: NodeState, tracker: RestartTracker, fn: () => Promise<T>): Promise<T> {
  const stop = new AbortController();
  const beat = (async () => {
    while (!stop.signal.aborted) {
      await sleep(1000, stop.signal);
      if (stop.signal.aborted) return;
      try {
        await report(rt, current, rt.lastFacts, tracker);
      } catch {
        // The round after the transition reports the failure.
      }
    }
  })();
  try {
    return await fn();
  } finally {
    stop.abort();
    await beat;
  }
}

/** The FATAL message of a node the monitor no longer knows (spec 05 §12.1). */
export function droppedMessage(rt: KeeperRuntime): string {
  return `This node with id ${rt.state.currentNodeId} in formation "${rt.config.pg_autoctl.formation}" and group ${rt.state.currentGroup} has been dropped from the monitor`;
}
