/**
 * A running keeper registers its node again into a monitor rebuilt from
 * its nodes (`pg_autoctl create monitor --rebuild-from-nodes`, see
 * src/monitor/ha/rebuild.ts): when the monitor does not know this node
 * (node_active: SQLSTATE 42704), or refuses it as stale (its epoch is lower
 * than this node has seen: a new monitor starts at epoch 1), and only when
 * that monitor says it is being rebuilt. The node keeps its id, name,
 * group and address; it registers its current state, and the last goal it
 * received with that goal's decision (its witness, monitor-epoch.ts), so
 * that the monitor decides nothing against what the node does. Its node
 * token binds it again. The monitor then moves its epoch to at least the
 * one this node has seen (and above the epoch of its witnessed decision),
 * and the ordinary loop goes on with it.
 */
import { messageOf } from '../common/errors.js';
import { readNodeTokenIfExists } from '../config/index.js';
import { monitorRebuildStatus, presentNodeToken, rebuildRegisterNode } from '../monitor-api/index.js';
import { connectClient } from '../postgres/index.js';
import { gatherFacts } from './local-pg.js';
import { currentState, type KeeperRuntime } from './runtime.js';

/** A stale monitor is asked whether it is being rebuilt at most this often. */
export const REBUILD_CHECK_PERIOD_MS = 5000;
const lastChecks = new WeakMap<KeeperRuntime, number>();

/**
 * Registers the node again when the monitor is being rebuilt; false when it
 * is not (or cannot say), and the caller goes on as before. `stale`: the
 * call is for a monitor refused by its epoch, asked at most once per
 * {@link REBUILD_CHECK_PERIOD_MS}.
 */
export async function registerIntoRebuiltMonitor(rt: KeeperRuntime, options: { stale?: boolean } = {}): Promise<boolean> {
  if (options.stale === true) {
    const now = performance.now();
    if (now - (lastChecks.get(rt) ?? Number.NEGATIVE_INFINITY) < REBUILD_CHECK_PERIOD_MS) return false;
    lastChecks.set(rt, now);
  }
  let client;
  try {
    client = await connectClient(rt.config.pg_autoctl.monitor, {
      connectTimeoutMs: 2000, applicationName: 'pg_autoctl keeper rebuild', ...(rt.env ? { env: rt.env } : {}),
    });
  } catch (error) {
    rt.log.debug(`Failed to ask the monitor whether it is being rebuilt: ${messageOf(error)}`);
    return false;
  }
  try {
    const status = await monitorRebuildStatus(client);
    if (status?.active !== true) return false;
    const token = await readNodeTokenIfExists(rt.paths.token);
    if (token !== undefined) await presentNodeToken(client, token);
    const witness = rt.epoch?.witness ?? null;
    const known = new Set<number>(rt.otherNodes.map((n) => n.nodeId));
    for (const peer of rt.failsafe.material?.peers ?? []) known.add(peer.nodeId);
    known.delete(rt.state.currentNodeId);
    const current = currentState(rt);
    // At start-up no round has read Postgres yet.
    const facts = rt.lastFacts.running ? rt.lastFacts : await gatherFacts(rt.local, rt.log);
    const goal = witness?.goal ?? current;
    const answer = await rebuildRegisterNode(client, {
      formation: rt.config.pg_autoctl.formation,
      nodeId: rt.state.currentNodeId,
      groupId: rt.state.currentGroup,
      name: rt.config.pg_autoctl.name ?? '',
      host: rt.config.pg_autoctl.hostname,
      port: rt.config.postgresql.port,
      dbname: rt.config.postgresql.dbname,
      sysIdentifier: rt.state.systemIdentifier,
      currentState: current,
      goalState: goal,
      tli: facts.timeline,
      lsn: facts.lsn,
      candidatePriority: witness?.candidatePriority ?? 100,
      replicationQuorum: witness?.replicationQuorum ?? true,
      kind: rt.config.pg_autoctl.nodekind,
      seenEpoch: rt.epoch?.highestSeen ?? 0,
      witness: witness === null ? { epoch: 0, id: 0 } : { epoch: witness.epoch, id: witness.decisionId },
      knownNodes: [...known].sort((a, b) => a - b),
    });
    rt.log.info(`Registered this node again into the monitor being rebuilt from its nodes: node ${answer.node.nodeId} "${answer.node.name}" `
      + `in group ${answer.node.groupId}, state "${current}", goal "${answer.node.goalState}"`
      + (witness === null ? '' : ` (decision ${witness.decisionId} of epoch ${witness.epoch})`)
      + `; monitor epoch ${answer.monitorEpoch}${answer.groupComplete ? '; every node of the group it knows of is back' : ''}`);
    rt.epoch?.admit(answer.monitorEpoch, 'the monitor being rebuilt');
    // The next call opens a new connection, checked against the new epoch.
    rt.monitor.reset();
    rt.failsafe.publishedHttpPort = undefined;
    return true;
  } catch (error) {
    rt.log.warn(`Failed to register this node again into the monitor being rebuilt: ${messageOf(error)}`);
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}
