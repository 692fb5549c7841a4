/**
 * `pg_autoctl create monitor --rebuild-from-nodes` (issue 13 phase 4): a
 * monitor whose database was lost is created again, empty, and the running
 * keepers register their nodes into it again, from what each keeps beside
 * its state file (node id, name, group, current state, last goal received
 * and that goal's decision: src/keeper/monitor-epoch.ts), with their roles
 * unchanged and no failover.
 *
 * The monitor side, in SQL (api/10-witness-rebuild.sql):
 * - start_monitor_rebuild (here, at create) puts the empty monitor in
 *   rebuild mode; it is refused when the monitor has nodes;
 * - rebuild_register_node, called by a keeper that the monitor does not
 *   know (or that refuses its epoch) while the rebuild runs
 *   (src/keeper/rebuild-register.ts), inserts the node as the keeper
 *   describes it, binds its node token again, moves the monitor epoch to
 *   at least the highest the keeper has seen and above the epoch of the
 *   decision it witnessed, and records the other nodes the keeper knows of;
 * - registrations are accepted until the rebuild window has passed since
 *   the first one (other groups may come later); a group is held
 *   (rebuild_holds_group) until every node its registered keepers know of
 *   is back, or the window ran out.
 * While a group is held the brain decides nothing for it (brain.ts,
 * GroupFacts.rebuilding): a group half registered looks like a standby
 * alone or a primary without standbys, which the rules would otherwise act
 * on. The data nodes' failsafe keeps the primary serving while no monitor
 * answers.
 *
 * A node whose keeper does not come back within the window is not in the
 * rebuilt monitor: register it again with pg_autoctl create postgres after
 * pg_autoctl drop node --destroy, as for a new node.
 */
import type { Logger } from '../../common/log.js';
import { startMonitorRebuild, type MonitorClient } from '../../monitor-api/index.js';

/** How long, after the first node registered again, registrations are accepted and incomplete groups held. */
export const DEFAULT_REBUILD_WINDOW_MS = 60_000;

/** Puts the freshly created monitor in rebuild mode (refused when it already has nodes). */
export async function startRebuildFromNodes(db: MonitorClient, log: Pick<Logger, 'info'>, windowMs = DEFAULT_REBUILD_WINDOW_MS): Promise<void> {
  await startMonitorRebuild(db, windowMs);
  log.info('The monitor is being rebuilt from its nodes: running keepers register their nodes again, with their roles unchanged; '
    + `no decision is made for a group until every node its keepers know of is back, or ${Math.round(windowMs / 1000)} s after the first registration`);
}
