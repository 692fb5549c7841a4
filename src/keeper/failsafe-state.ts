/**
 * What the failsafe keeps (src/keeper/failsafe.ts): the material the
 * monitor hands out, the promise this node made, and the bookkeeping of an
 * outage; and the files that carry the material and the promise across a
 * restart of pg_autoctl (both 0600: the material holds the group secret).
 */
import { readFileSync, rmSync } from 'node:fs';
import { writeFileAtomic } from '../common/atomic-file.js';
import { z } from 'zod';
import { leaseMarginMs } from '../fsm/index.js';
import type { FailsafePeer } from '../monitor-api/index.js';
import { bootId, storeLeaseEnd } from './lease-file.js';

/** Bounds on the lease length a question may ask a promise for (ms). */
export const MIN_ASKED_LEASE_MS = 1000;
export const MAX_ASKED_LEASE_MS = 10 * 60 * 1000;


/** What the monitor handed out, as kept in memory and in the failsafe file. */
export interface FailsafeMaterial {
  readonly nodeId: number;
  readonly formation: string;
  readonly groupId: number;
  readonly peers: readonly FailsafePeer[];
  readonly secret: string;
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

// ---------------------------------------------------------------------------
// Files

const peerSchema = z.object({
  nodeId: z.number().int(), name: z.string(), host: z.string(), port: z.number().int(),
  httpPort: z.number().int().nullable(), candidatePriority: z.number().int(),
});
const materialSchema = z.object({
  nodeId: z.number().int(), formation: z.string(), groupId: z.number().int(),
  peers: z.array(peerSchema), secret: z.string(),
});

/** Writes the material (mode 0600: it holds the group's secret); failures only cost the failsafe after a restart. */
export function storeMaterial(path: string, material: FailsafeMaterial | null): void {
  try {
    if (material === null) {
      rmSync(path, { force: true });
      return;
    }
    writeFileAtomic(path, `${JSON.stringify(material)}\n`, { mode: 0o600 });
  } catch {
    // the next round writes it again
  }
}

export function loadMaterial(path: string): FailsafeMaterial | null {
  try {
    const parsed = materialSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** File names beside the lease file. */
export function failsafeFiles(leaseFile: string): { material: string; promise: string } {
  return { material: `${leaseFile}.failsafe`, promise: `${leaseFile}.promise` };
}

/**
 * Writes a promise: its end on the system-wide monotonic clock with the
 * boot id, and the lease length it was given for.
 */
export function storePromise(path: string, end: number, leaseMs: number): void {
  // Losing the file costs the promise only across a keeper restart before the next answer.
  storeLeaseEnd(path, end, { lease_ms: leaseMs });
}

/**
 * The promise a previous keeper process made, in this process's
 * performance.now() ms. After a reboot the monotonic clock started again,
 * so the time elapsed since is unknown: the promise is held a whole lease
 * (and margin) from now, which is never shorter than what is left of it.
 */
export function loadPromise(path: string): { end: number | null; leaseMs: number } | null {
  let value: { boot_id?: unknown; expires_at_ns?: unknown; lease_ms?: unknown };
  try {
    value = JSON.parse(readFileSync(path, 'utf8')) as typeof value;
  } catch {
    return null;
  }
  const leaseMs = typeof value.lease_ms === 'number' && value.lease_ms > 0 ? Math.min(value.lease_ms, MAX_ASKED_LEASE_MS) : MAX_ASKED_LEASE_MS;
  if (value.boot_id !== bootId() || typeof value.expires_at_ns !== 'string' || !/^\d+$/.test(value.expires_at_ns)) {
    return { end: performance.now() + leaseMs + leaseMarginMs(leaseMs), leaseMs };
  }
  const remainingMs = Math.min(Number(BigInt(value.expires_at_ns) - process.hrtime.bigint()) / 1e6, leaseMs + leaseMarginMs(leaseMs));
  return { end: remainingMs > 0 ? performance.now() + remainingMs : null, leaseMs };
}

/** The failsafe state of a starting keeper: the material and the promise it made before a restart. */
export function restoreFailsafe(leaseFile: string): FailsafeState {
  const files = failsafeFiles(leaseFile);
  const state = newFailsafeState();
  state.material = loadMaterial(files.material);
  const promise = loadPromise(files.promise);
  state.promiseEnd = promise?.end ?? null;
  // Rebased on this boot while it runs, gone once it ran out.
  if (promise !== null && promise.end !== null) storePromise(files.promise, promise.end, promise.leaseMs);
  else if (promise !== null) rmSync(files.promise, { force: true });
  return state;
}

