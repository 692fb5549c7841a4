/**
 * Wording of event descriptions and log lines. The key phrases of spec 03
 * §7-8 are kept ("Setting goal state of", "Updating candidate priority",
 * "Failover still in progress", "The current most advanced reported LSN
 * is"); the reasons are written for operators.
 */
import type { NodeSnapshot } from './snapshot.js';
import type { NodeState } from './states.js';

type LabelView = Pick<NodeSnapshot, 'nodeId' | 'name' | 'host' | 'port'>;

/** `node 2 "node_2" (10.0.0.2:5432)` */
export function nodeLabel(node: LabelView): string {
  return `node ${node.nodeId} "${node.name}" (${node.host}:${node.port})`;
}

/** `Setting goal state of node 1 … to draining and node 2 … to prepare_promotion` */
export function goalText(changes: ReadonlyArray<readonly [LabelView, NodeState]>): string {
  const parts = changes.map(([node, goal]) => `${nodeLabel(node)} to ${goal}`);
  return `Setting goal state of ${parts.join(' and ')}`;
}

export function listNodes(nodes: readonly LabelView[]): string {
  return nodes.map(nodeLabel).join(', ');
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

export function formatBytes(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MB`;
  return `${bytes} bytes`;
}
