/**
 * Carrying a running write lease across a restart of pg_autoctl (DESIGN.md
 * decision 7: after a SIGKILL of the supervisor, Postgres keeps serving and
 * the next `run` adopts it, on a primary only until its lease runs out).
 * The end of the lease is stored on the system-wide monotonic clock
 * (CLOCK_MONOTONIC, which process.hrtime reads), together with the boot id:
 * after a reboot the stored lease counts as expired.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

/** Stores the lease end given in this process's performance.now() milliseconds. */
export function storeLeaseEnd(path: string, expiresAt: number | null): void {
  try {
    if (expiresAt === null) {
      rmSync(path, { force: true });
      return;
    }
    const nowNs = process.hrtime.bigint();
    const endNs = nowNs + BigInt(Math.round((expiresAt - performance.now()) * 1e6));
    const temp = `${path}.new`;
    writeFileSync(temp, `${JSON.stringify({ boot_id: bootId(), expires_at_ns: endNs.toString() })}\n`, { mode: 0o600 });
    renameSync(temp, path);
  } catch {
    // Losing this file only costs a Postgres restart after a crash of pg_autoctl.
  }
}

/** The stored lease end in this process's performance.now() milliseconds, or null. */
export function loadLeaseEnd(path: string): number | null {
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as { boot_id?: unknown; expires_at_ns?: unknown };
    const id = bootId();
    if (id === '' || value.boot_id !== id || typeof value.expires_at_ns !== 'string' || !/^\d+$/.test(value.expires_at_ns)) return null;
    const remainingMs = Number(BigInt(value.expires_at_ns) - process.hrtime.bigint()) / 1e6;
    return remainingMs > 0 ? performance.now() + remainingMs : null;
  } catch {
    return null;
  }
}
