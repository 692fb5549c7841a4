/**
 * What the keeper tells the parts that watch it (metrics, hooks) without
 * those parts reaching into the loop: a typed event emitter on the
 * runtime. Listeners run synchronously on emit and must not block; a
 * listener that throws is logged by the emitter's owner, never by the
 * loop (see {@link emitKeeperEvent}).
 */
import { EventEmitter } from 'node:events';
import type { NodeState } from '../fsm/states.js';

export interface KeeperEventMap {
  /** The service started (before the first round). */
  started: [];
  /** The service is stopping (pg_autoctl stop, SIGTERM, a fatal error). */
  stopping: [{ reason: string }];
  /** A transition is about to run. */
  'transition-start': [{ from: NodeState; to: NodeState }];
  /** A transition ended: `ok` false when its action failed (it is retried). */
  'transition-end': [{ from: NodeState; to: NodeState; ms: number; ok: boolean; error?: string }];
  /** One node_active call: its round-trip time, and whether it got an answer. */
  'node-active': [{ ms: number; ok: boolean; goal?: NodeState }];
  /** The keeper stopped Postgres because the write lease ran out. */
  fenced: [{ reason: string }];
}

export type KeeperEvents = EventEmitter<KeeperEventMap>;

export function createKeeperEvents(): KeeperEvents {
  return new EventEmitter<KeeperEventMap>();
}

/** Emits, and keeps a failing listener from breaking the caller (the loop, the lease timer). */
export function emitKeeperEvent<K extends keyof KeeperEventMap>(events: KeeperEvents, onError: (error: unknown) => void,
  name: K, ...args: KeeperEventMap[K]): void {
  try {
    (events.emit as (n: K, ...a: KeeperEventMap[K]) => boolean)(name, ...args);
  } catch (error) {
    onError(error);
  }
}
