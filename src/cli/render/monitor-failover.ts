/**
 * Rendering of `pg_autoctl perform monitor-failover`: a short summary of
 * the promotion (text), the same facts as an object (--json).
 */
import type { Rendering } from '../command.js';

export interface MonitorFailoverReport {
  /** `switchover`: the old primary handed over; `forced`: it did not answer and --force was given. */
  mode: 'switchover' | 'forced';
  memberId: number;
  host: string;
  port: number;
  oldPrimary: { host: string; port: number } | null;
  /** What the old primary was when this monitor was promoted. */
  oldPrimaryWas: 'down' | 'read-only' | 'unreachable';
  requestId: number | null;
  previousEpoch: number;
  epoch: number;
  timeline: number | null;
  /** From pg_ctl promote to writable. */
  promoteMs: number;
  /** From the start of the command to writable at the new epoch. */
  elapsedMs: number;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

export const monitorFailoverRendering: Rendering<MonitorFailoverReport> = {
  text(r) {
    const old = r.oldPrimary === null ? 'unknown' : `${r.oldPrimary.host}:${r.oldPrimary.port}`;
    const how = r.mode === 'switchover'
      ? `handed over (clean switchover, request ${r.requestId ?? '?'}), now ${r.oldPrimaryWas}; it rejoins as a standby`
      : 'did not answer: promoted with --force';
    return [
      `Monitor member ${r.memberId} (${r.host}:${r.port}) is now the primary monitor`,
      `Monitor epoch: ${r.previousEpoch} -> ${r.epoch} (timeline ${r.timeline ?? 'unknown'})`,
      `Old primary monitor ${old}: ${how}`,
      `Writable ${seconds(r.elapsedMs)} after the command started (promotion ${seconds(r.promoteMs)})`,
      '',
    ].join('\n');
  },
  json(r) {
    return {
      mode: r.mode,
      member_id: r.memberId,
      host: r.host,
      port: r.port,
      old_primary: r.oldPrimary,
      old_primary_was: r.oldPrimaryWas,
      request_id: r.requestId,
      previous_epoch: r.previousEpoch,
      epoch: r.epoch,
      timeline: r.timeline,
      promote_ms: r.promoteMs,
      elapsed_ms: r.elapsedMs,
    };
  },
};
