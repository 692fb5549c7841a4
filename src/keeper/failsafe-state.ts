/**
 * What the keeper's failsafe (failsafe.ts) keeps between rounds, apart
 * from the code that uses it so that the keeper runtime can hold it
 * without importing the failsafe.
 */
import type { FailsafePeer } from '../monitor-api/index.js';

/** What the monitor handed out, as kept in memory and in the failsafe file. */
export interface FailsafeMaterial {
  readonly nodeId: number;
  readonly formation: string;
  readonly groupId: number;
  readonly peers: readonly FailsafePeer[];
  readonly secret: string;
  /**
   * The list was fetched after the last node_active that granted this
   * node a write lease: only then may a primary vouch with it (a node
   * registered before that grant is on it).
   */
  readonly freshForLease: boolean;
}

/** Everything of the failsafe a keeper keeps between rounds. */
export interface FailsafeState {
  material: FailsafeMaterial | null;
  /** performance.now() of the last node_active answer that granted a writable goal. */
  lastGrantAnsweredAt: number | null;
  /** The port published on the monitor by this process (undefined: not yet). */
  publishedHttpPort: number | null | undefined;
  /** Until when this node promised not to stop streaming nor be promoted (performance.now() ms). */
  promiseEnd: number | null;
  /** Nonces already seen, with when they were seen. */
  readonly nonces: Map<string, number>;
  /** The current outage, on the primary: when it started and what the rounds did. */
  outage: { since: number; rounds: number; extended: number; vouchers: Set<number>; lastRefusal: string | null } | null;
  /** Answers given during the current outage, on a standby. */
  vouched: { since: number; yes: number; no: number; primaryId: number | null } | null;
}

export function newFailsafeState(): FailsafeState {
  return {
    material: null, lastGrantAnsweredAt: null, publishedHttpPort: undefined, promiseEnd: null,
    nonces: new Map(), outage: null, vouched: null,
  };
}
