/**
 * Operator hooks run by the keeper on role changes, start and stop
 * (issue 12 part 3). Not built yet.
 */
import type { KeeperRuntime } from './runtime.js';

/** Subscribes the configured hooks to the keeper's events; returns the unsubscribe. */
export function watchKeeperHooks(_rt: KeeperRuntime): () => void {
  return () => undefined;
}
