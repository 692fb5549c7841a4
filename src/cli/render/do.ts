/**
 * Renderings of `pg_autoctl do ...` (spec 04 §13), in the original's layouts:
 * `do fsm state|init|assign` always print JSON (the original's test suite
 * parses it: state.nodeId, state.current_role, state.assigned_role, ...).
 */
import type { Rendering } from '../command.js';
import type { FsmStepView, KeeperStateView, NodesView } from '../do/fsm.js';
import type { CandidateCountView, OtherNodeView, PrimaryView } from '../do/monitor.js';
import { pgSetupJson, pgSetupText, type PgSetup } from './pg-setup.js';
import type { KeeperTransition } from '../../fsm/index.js';
import { formatLsn } from '../../common/lsn.js';
import { nodesFileJson } from '../../config/index.js';
import { epochToString, keeperStateJson as stateFileJson } from './files.js';
import { renderJson } from './json.js';

/** ctime(3) without its newline, local time ("Thu Dec  3 13:17:33 2026"); "0" for never. */
export const ctimeOf = epochToString;

export function keeperStateJson(view: KeeperStateView): Record<string, unknown> {
  return { postgres: pgSetupJson(view.postgres), state: stateFileJson(view.state) };
}

export const keeperStateRendering: Rendering<KeeperStateView> = {
  text: (view) => renderJson(keeperStateJson(view)),
  json: keeperStateJson,
};

const col20 = (s: string): string => s.padStart(20, ' ');

/** `do fsm list`: the transitions from the current state, or an empty line. */
export const transitionsRendering: Rendering<readonly KeeperTransition[]> = {
  text(transitions) {
    if (transitions.length === 0) return '\n';
    const lines = [
      `${col20('Current')} | ${col20('Reachable')} | Comment`,
      `${col20('-'.repeat(20))}-+-${col20('-'.repeat(20))}-+-${'-'.repeat(20)}`,
      ...transitions.map((t) => `${col20(t.from)} | ${col20(t.to)} | ${t.comment}`),
    ];
    return `${lines.join('\n')}\n\n`;
  },
};

/** `do fsm gv`: the keeper transitions as a graphviz program. */
export const graphvizRendering: Rendering<readonly KeeperTransition[]> = {
  text(transitions) {
    const edges = transitions.map((t) => `    ${t.from} -> ${t.to} [ label = "${t.comment.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}" ];`);
    return [
      'digraph finite_state_machine',
      '{',
      '    size="12"',
      '    ratio="fill"',
      '    node [shape = doubleoctagon, style=filled, color="bisque1"]; init primary secondary; ',
      '    node [shape = octagon, style=filled color="bisque3"]; ',
      ...edges,
      '}',
      '',
    ].join('\n');
  },
};

/** `do pgsetup discover`. */
export const pgSetupRendering: Rendering<PgSetup> = { text: pgSetupText, json: pgSetupJson };

/** `do service getpid|restart`: the pid. */
export const pidRendering: Rendering<number> = { text: (pid) => `${pid}\n` };

export const primaryRendering: Rendering<PrimaryView> = {
  text: (v) => `${v.formation}/${v.groupId} ${v.primary.host}:${v.primary.port}\n`,
  json: (v) => ({
    formation: v.formation, groupId: v.groupId, nodeId: v.primary.nodeId, name: v.primary.name, host: v.primary.host, port: v.primary.port,
  }),
};

/** `do monitor get others`: the original's node table; JSON keys in jsonb order, as its jsonb_pretty output. */
export const otherNodesRendering: Rendering<readonly OtherNodeView[]> = {
  text(nodes) {
    const rows = nodes.map((n) => ({
      name: n.name, node: String(n.nodeId), hostPort: `${n.host}:${n.port}`,
      tliLsn: `${String(n.tli).padStart(3, ' ')}: ${formatLsn(n.lsn)}`, primary: n.isPrimary ? 'yes' : 'no',
    }));
    // 2.0 sizes the columns from the nodes only: no nodes, no widths.
    const min = (n: number): number => (rows.length === 0 ? 0 : n);
    const w = {
      name: Math.max(min(4), ...rows.map((r) => r.name.length)),
      node: Math.max(min(5), ...rows.map((r) => r.node.length)),
      host: Math.max(min(9), ...rows.map((r) => r.hostPort.length)),
    };
    const line = (name: string, node: string, host: string, lsn: string, primary: string): string =>
      `${name.padStart(w.name)} | ${node.padStart(w.node)} | ${host.padStart(w.host)} | ${lsn.padStart(21)} | ${primary.padStart(8)}`;
    return [
      line('Name', 'Node', 'Host:Port', 'TLI: LSN', 'Primary?'),
      `${'-'.repeat(w.name)}-+-${'-'.repeat(w.node)}-+-${'-'.repeat(w.host)}-+-${'-'.repeat(18).padStart(21)}-+-${'-'.repeat(8)}`,
      ...rows.map((r) => line(r.name, r.node, r.hostPort, r.tliLsn, r.primary)),
      '',
      '',
    ].join('\n');
  },
  json: (nodes) => nodes.map((n) => ({
    node_id: n.nodeId, node_lsn: formatLsn(n.lsn), node_host: n.host, node_name: n.name, node_port: n.port, node_is_primary: n.isPrimary,
  })),
};

export const candidateCountRendering: Rendering<CandidateCountView> = {
  text: (v) => `${v.count}\n`,
  json: (v) => ({ formation: v.formation, groupId: v.groupId, failoverCandidateCount: v.count }),
};

/** `do fsm step`: the state before the step and the goal after it, as 2.0 (no JSON form). */
export const fsmStepRendering: Rendering<FsmStepView> = {
  text: (v) => `${v.from} \u279c ${v.to}\n`,
};

/**
 * `do fsm nodes get|set`: the node table of `do monitor get others` (the
 * file has no timeline: 0, as 2.0 prints it); with --json the nodes in the
 * file's own format.
 */
export const nodesFileRendering: Rendering<NodesView> = {
  text: (nodes) => otherNodesRendering.text(nodes.map((n) => ({ ...n, tli: 0 }))),
  json: (nodes) => nodesFileJson(nodes),
};
