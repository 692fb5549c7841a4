/**
 * Carrying a running write lease across a restart of pg_autoctl (DESIGN.md
 * decision 7: after a SIGKILL of the supervisor, Postgres keeps serving and
 * the next `run` adopts it, on a primary only until its lease runs out).
 * The end of the lease is stored on the system-wide monotonic clock
 * (CLOCK_MONOTONIC, which process.hrtime reads), together with the boot id:
 * after a reboot the stored lease counts as expired.
 */
import { closeSync, constants, fchmodSync, fstatSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';

/** The lease file is read back only when this account wrote it and nobody else may change it. */
export const LEASE_FILE_MODE = 0o600;

export function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

/**
 * Stores the lease end given in this process's performance.now()
 * milliseconds (with `extra` fields kept beside it, e.g. a promise's lease).
 */
export function storeLeaseEnd(path: string, expiresAt: number | null, extra: Readonly<Record<string, number>> = {}): void {
  try {
    if (expiresAt === null) {
      rmSync(path, { force: true });
      return;
    }
    const nowNs = process.hrtime.bigint();
    const endNs = nowNs + BigInt(Math.round((expiresAt - performance.now()) * 1e6));
    const temp = `${path}.new`;
    rmSync(temp, { force: true });
    // O_EXCL|O_NOFOLLOW: never write through a planted file or symlink.
    const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, LEASE_FILE_MODE);
    try {
      fchmodSync(fd, LEASE_FILE_MODE);
      writeSync(fd, `${JSON.stringify({ ...extra, boot_id: bootId(), expires_at_ns: endNs.toString() })}\n`);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch {
    // Losing this file only costs a Postgres restart after a crash of pg_autoctl.
  }
}

/** Slack over the lease length before a stored end counts as forged. */
export const STORED_LEASE_MARGIN_MS = 1000;

/**
 * The longest lease end worth believing after a restart: the lease a grant
 * gives (network_partition_timeout, see keeperLeaseMs) plus a margin.
 */
export function maxStoredLeaseMs(networkPartitionTimeoutSeconds: number): number {
  return networkPartitionTimeoutSeconds * 1000 + STORED_LEASE_MARGIN_MS;
}

/** What a stored lease gives the next pg_autoctl process. */
export interface StoredLease {
  /** The lease end in this process's performance.now() milliseconds, or null. */
  readonly end: number | null;
  /** Why the stored value was not taken as is (ignored or clamped), for a warning. */
  readonly warning?: string;
}

/**
 * Reads the stored lease end. A file not owned by this account, or writable
 * by group or others, is ignored. No grant is longer than the lease length,
 * so an end more than `maxRemainingMs` away is not believed: it is clamped
 * to `maxRemainingMs` from now (a shorter lease only fences sooner).
 */
export function readLeaseFile(path: string, maxRemainingMs: number = Number.POSITIVE_INFINITY): StoredLease {
  let text: string;
  try {
    const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const st = fstatSync(fd);
      const uid = process.getuid?.();
      if (!st.isFile() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) {
        return { end: null, warning: `Ignoring the lease file "${path}": it is not a regular file owned by this user and writable only by it` };
      }
      text = readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return { end: null };
  }
  try {
    const value = JSON.parse(text) as { boot_id?: unknown; expires_at_ns?: unknown };
    const id = bootId();
    if (id === '' || value.boot_id !== id || typeof value.expires_at_ns !== 'string' || !/^\d+$/.test(value.expires_at_ns)) return { end: null };
    const remainingMs = Number(BigInt(value.expires_at_ns) - process.hrtime.bigint()) / 1e6;
    if (!(remainingMs > 0)) return { end: null };
    if (remainingMs > maxRemainingMs) {
      return {
        end: performance.now() + maxRemainingMs,
        warning: `The lease file "${path}" claims ${Math.round(remainingMs)} ms of lease left, more than the ${Math.round(maxRemainingMs)} ms a grant can give: using ${Math.round(maxRemainingMs)} ms`,
      };
    }
    return { end: performance.now() + remainingMs };
  } catch {
    return { end: null };
  }
}

/** The stored lease end in this process's performance.now() milliseconds, or null (see {@link readLeaseFile}). */
export function loadLeaseEnd(path: string, maxRemainingMs?: number): number | null {
  return readLeaseFile(path, maxRemainingMs).end;
}
