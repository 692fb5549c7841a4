/**
 * A keeper whose monitor is disabled takes the other nodes of its group
 * from the nodes file (`pg_autoctl do fsm nodes set`, spec 05 §16), when
 * there is one: it becomes `rt.otherNodes`, and the replication HBA rules
 * follow it. Without the file the list from before stays (see
 * docs/architecture.md "Running without a monitor").
 */
import { messageOf } from '../common/errors.js';
import { otherNodesOf, parseNodesArray, readNodesFileTextIfExists } from '../config/index.js';
import { classifyPgData } from '../postgres/index.js';
import { syncReplicationHba } from './hba-sync.js';
import { currentState, type KeeperRuntime } from './runtime.js';

/** Per runtime: the file text last applied, and the last error logged (each logged once). */
const applied = new WeakMap<KeeperRuntime, { text?: string | undefined; error?: string | undefined }>();

export async function readOtherNodesFromFile(rt: KeeperRuntime): Promise<void> {
  // As 2.0: a node still in `init` has no other nodes to know of.
  if (currentState(rt) === 'init') return;
  const memo = applied.get(rt) ?? {};
  applied.set(rt, memo);
  let text: string | undefined;
  try {
    text = await readNodesFileTextIfExists(rt.paths.nodesJson);
    if (text === undefined) return;
    if (text !== memo.text) {
      const others = otherNodesOf(parseNodesArray(text, 'BAD_STATE'), rt.state.currentNodeId);
      rt.otherNodes = others.map((n) => ({ ...n }));
      memo.text = text;
      memo.error = undefined;
      rt.log.info(`Read ${others.length} other node(s) from the nodes file "${rt.paths.nodesJson}"`);
    }
  } catch (error) {
    const message = messageOf(error);
    if (memo.error !== message) rt.log.error(`Failed to read the nodes file "${rt.paths.nodesJson}", keeping the other nodes known so far: ${message}`);
    memo.error = message;
    return;
  }
  if (classifyPgData(rt.config.postgresql.pgdata) === 'postgres') await syncReplicationHba(rt);
}
